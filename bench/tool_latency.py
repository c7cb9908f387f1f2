from .common import BenchResult
async def run(*, smoke: bool = False, scale: float = 1.0) -> BenchResult:
    return BenchResult('tool_latency', 'tool_latency', summary='tool_latency: todo')
