"""avnz: payment orchestration for agencies running subscription e-commerce brands."""

__version__ = "0.1.0"
