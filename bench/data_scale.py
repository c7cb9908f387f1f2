from .common import BenchResult
async def run(*, smoke: bool = False, scale: float = 1.0) -> BenchResult:
    return BenchResult('data_scale', 'data_scale', summary='data_scale: todo')
