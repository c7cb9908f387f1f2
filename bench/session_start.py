from .common import BenchResult
async def run(*, smoke: bool = False, scale: float = 1.0) -> BenchResult:
    return BenchResult('session_start', 'session_start', summary='session_start: todo')
