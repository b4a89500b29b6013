"""Durable background jobs: rows swept by a worker loop, in-process or in `avnz worker`s."""
