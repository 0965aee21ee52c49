"""One module per service; each exposes `async def run(ctx: BenchContext) -> None`."""
