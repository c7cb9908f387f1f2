from .common import BenchResult
async def run(*, smoke: bool = False, scale: float = 1.0) -> BenchResult:
    return BenchResult('concurrency', 'concurrency', summary='concurrency: todo')
