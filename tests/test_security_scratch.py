import asyncio
from test_faults_provider import *
from test_faults_provider import _run
async def test_x(db):
    model = ScriptedLLM(["Balance desk."])
    async with call(db, model) as (session, _):
        await asyncio.sleep(0.1)
        @session.on("conversation_item_added")
        def _p(ev): print("ADDED", ev.item.type, getattr(ev.item, "role", None), repr(getattr(ev.item, "text_content", None)), getattr(ev.item, "text_content", None) in (APOLOGY, APOLOGY_REPEATED))
        @session.on("error")
        def _e(ev): print("ERROR", type(ev.error).__name__, getattr(ev.error, "recoverable", None))
        for n in range(3):
            model.push(APIStatusError(f"server error {n}", status_code=503, retryable=False))
            await _run(session, f"hello {n}")
        print([i.type for i in session.history.items])
