"""Payment gateways: the connector contract (`base.py`), one package per gateway that declares
itself (`plugin.py`), and the registry built from those declarations (`registry.py`). Nothing
here imports the ORM, `avnz.db`, `avnz.payments` or `avnz.routing`."""
