"""The intent table and the classifier trained on it, for the offline model.

One row per intent: example utterances, the slots it takes, and the tool that serves it
(routing follows from the tool: this desk calls it when it has it, otherwise transfers
toward the desk that does). Out-of-scope intents have no tool and an honest answer
instead, with the offer of a person.

The classifier is multinomial naive Bayes over word, word-pair and character-trigram
features, trained at import from the examples: deterministic, no downloads, and it
generalises past exact phrasings where an ordered list of regexes does not. Below the
confidence threshold the desk asks one short question instead of guessing."""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from livekit.agents.llm import find_function_tools
from livekit.agents.llm.tool_context import get_function_info, is_function_tool

from agents.registry import AGENTS
from handoffs.graph import EDGES, GREETER, transfer_tool_name


@dataclass(frozen=True)
class Intent:
    name: str
    tool: str | None  # the tool that serves it; None: not something this bank desk does
    slots: tuple[str, ...]
    examples: tuple[str, ...]
    answer: str = ""  # out of scope: what we honestly say instead


def _ex(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.strip().splitlines() if line.strip())


TABLE: tuple[Intent, ...] = (
    Intent(
        "balance",
        "get_balance",
        ("account",),
        _ex("""
        what's my balance
        how much money do I have
        how much is in my checking account
        what do I owe on my credit card
        check my savings balance
        how much have I got left
        what's my available credit
        tell me my account balance please
        is there enough money in my account
        balance
        how much funds are available
        what is my current balance
        how much credit do I have left
        what's in my savings
        how much is on my card
        money left in checking
        how much do I have in the bank
    """),
    ),
    Intent(
        "balance_why",
        "get_balance",
        ("account",),
        _ex("""
        why is my available balance lower
        why are the two balances different
        what's the difference between available and current balance
        why is it different
        why doesn't my available balance match
        why is the available amount less than the current one
        how come the balances don't match
        why is there a difference between them
        what is the pending amount
        why is available lower than current
    """),
    ),
    Intent(
        "transactions",
        "get_transactions",
        ("account", "count", "days_back", "merchant", "min_amount"),
        _ex("""
        show me my recent transactions
        what did I spend at amazon
        my last five purchases
        any charges over fifty dollars
        did I pay anything to uber last week
        what came out of my account yesterday
        list my payments this month
        show my spending history
        what were my last few charges
        transactions
        what have I purchased lately
        what did I buy last week
        recent activity on my account
        show me what I paid recently
        read out my latest payments
        how much did I spend on food
        was there a payment to spotify
        charges at the gas station
        show transactions from today
        what went out of checking
    """),
    ),
    Intent(
        "lock",
        "lock_card",
        ("card",),
        _ex("""
        lock my card
        freeze my debit card
        please block my credit card
        can you put a temporary hold on my card
        stop my card from working for now
        lock all my cards
        freeze both cards please
        suspend my card temporarily
        put a freeze on the visa
        disable my mastercard for a while
        lock the card ending 4242
        I want my card locked
    """),
    ),
    Intent(
        "unlock",
        "unlock_card",
        ("card",),
        _ex("""
        unlock my card
        unfreeze my credit card
        turn my card back on
        remove the block on my card
        reactivate my debit card
        I found my card, please unlock it
        lift the freeze on my card
        take off the lock please
        make my card work again
        switch the visa back on
        I want my card unlocked
    """),
    ),
    Intent(
        "lost",
        "report_card_lost_or_stolen",
        ("card",),
        _ex("""
        I lost my card
        I can't find my credit card anywhere
        my card is missing
        I misplaced my debit card
        I think I left my card somewhere
        I lost my wallet
        I've lost my purse with my cards
        my card fell out of my pocket somewhere
        cannot find my mastercard
        my visa is lost
        lost card
    """),
    ),
    Intent(
        "stolen",
        "report_card_lost_or_stolen",
        ("card",),
        _ex("""
        my card was stolen
        someone stole my wallet
        I was pickpocketed and they took my cards
        my purse was taken with my card in it
        I got robbed
        somebody took my card
        a thief stole my credit card
        my wallet got stolen
        stolen card
        someone stole it from my bag
    """),
    ),
    Intent(
        "suspicious",
        "lock_card",
        ("merchant", "amount"),
        _ex("""
        I don't recognise a charge
        there's a payment I didn't make
        someone used my card without permission
        this transaction wasn't me
        there's a weird charge on my statement
        I think my card has been hacked
        fraudulent transaction on my account
        I never authorised this payment
        someone has been using my card
        I don't know what this charge is
        that purchase wasn't mine
        there's a charge I don't know about
        an unauthorized purchase on my card
        I didn't buy that
    """),
    ),
    Intent(
        "dispute",
        "dispute_transaction",
        ("merchant", "amount"),
        _ex("""
        I want to dispute a charge
        I was charged twice
        I need a refund for a payment
        I want my money back for that purchase
        contest the uber charge
        I was overcharged by the store
        dispute the transaction please
        open a dispute for that payment
        I'd like to dispute the netflix charge
        raise a chargeback
        they took money twice
        I want to challenge a charge
    """),
    ),
    Intent(
        "list_cards",
        "list_cards",
        ("card",),
        _ex("""
        is my card locked
        what cards do I have
        my card got declined
        why isn't my card working
        what's the status of my cards
        is my amex active
        which cards are locked
        are any of my cards blocked
        was my card declined
        my card keeps getting rejected
        check the status of my visa
        is my card frozen
    """),
    ),
    Intent(
        "human",
        "transfer_to_human",
        (),
        _ex("""
        I want to talk to a person
        can I speak to a real human
        get me a representative
        transfer me to an agent
        I'd like someone to call me back
        let me talk to customer service
        speak to someone please
        I need a person
        connect me with an operator
        can a manager call me
        live agent
    """),
    ),
    Intent(
        "goodbye",
        None,
        (),
        _ex("""
        that's all thanks
        goodbye
        nothing else, bye
        I'm done, have a nice day
        that's everything
        bye for now
        ok thanks, goodbye
        that will be all
        no, that's it
        all done thank you
    """),
    ),
    Intent(
        "other",
        None,
        (),
        _ex("""
        what's the weather tomorrow
        tell me a joke
        who won the game last night
        what's the capital of france
        do you like music
        sing me a song
        how old are you
        what should I cook for dinner
    """),
    ),
    Intent(
        "mortgage",
        None,
        (),
        _ex("""
        I want to apply for a mortgage
        what are your mortgage rates
        can I refinance my home loan
        I need a loan to buy a house
        tell me about home loans
        can I get a personal loan
        how much could I borrow
        I'd like to borrow money
        car loan please
        can I take out a loan
        interest rates on loans
        remortgage my house
    """),
        answer="I can't help with mortgages or loans on this line",
    ),
    Intent(
        "open_account",
        None,
        (),
        _ex("""
        I'd like to open a new savings account
        how do I open an account
        can I open a checking account for my son
        I want to sign up for a credit card
        apply for a new credit card
        start a new account with you
        I want to become a customer
        new account please
        join your bank
        open a business account
        can my daughter get her own account
        order a new credit card for me
    """),
        answer="I can't open new accounts or cards on this line",
    ),
    Intent(
        "move_money",
        None,
        (),
        _ex("""
        transfer money to my savings
        send fifty dollars to my friend
        move money from checking to savings
        pay my credit card bill from checking
        wire money to another bank
        can you make a payment to my landlord
        I want to send money
        move funds between my accounts
        transfer from savings to checking
        pay a bill
        send a payment to my friend
        pay someone
        make a transfer
    """),
        answer="I can't move money or make payments on this line",
    ),
    Intent(
        "pin_change",
        None,
        (),
        _ex("""
        how do I change my PIN
        I want to change my pin number
        can I set a new PIN
        update my PIN please
        I'd like a different pin code
        change my password
        can you reset my PIN for me
        pick a new pin for my card
        how can I update my pin
        I need a new PIN
    """),
        answer="I can't change or reset a PIN on this line",
    ),
    Intent(
        "branch_hours",
        None,
        (),
        _ex("""
        what time does the branch open
        when does your branch close today
        where is the nearest branch
        are you open on sunday
        what are your opening hours
        find me an atm nearby
        what time are you open
        when do you close today
        branch opening times
        is there a branch near me
        nearest cash machine
        are branches open on weekends
    """),
        answer="I don't have branch or ATM details on this line",
    ),
)

INTENTS: dict[str, Intent] = {i.name: i for i in TABLE}
THRESHOLD = 0.6  # below this posterior the desk asks one short question
MIN_EVIDENCE = 2

_WORD = re.compile(r"[a-z0-9']+")
# Words every intent shares carry no evidence, only noise, for so few examples.
_STOP = frozenset("i i'm i'd i've me my a an the to is it it's you your please of and".split())


def _stem(word: str) -> str:
    for end in ("ing", "ed", "s"):
        if word.endswith(end) and len(word) > len(end) + 2:
            return word[: -len(end)]
    return word


def features(text: str) -> list[str]:
    words = [_stem(w) for w in _WORD.findall(text.lower().replace("\u2019", "'"))]
    words = [w for w in words if w not in _STOP] or words
    grams = [f"w:{w}" for w in words]
    grams += [f"b:{a}_{b}" for a, b in zip(words, words[1:], strict=False)]
    for w in words:
        padded = f" {w} "
        grams += [f"c:{padded[i : i + 3]}" for i in range(len(padded) - 2)]
    return grams


@dataclass(frozen=True)
class Guess:
    intent: str
    confidence: float  # posterior probability of the best intent
    evidence: int = 0  # distinct words of the utterance the best intent's examples use

    @property
    def sure(self) -> bool:
        # One shared word ("account", "dollar") is not a request: ask instead of guessing.
        return self.confidence >= THRESHOLD and self.evidence >= MIN_EVIDENCE


class NaiveBayes:
    """Multinomial naive Bayes with Laplace smoothing and uniform priors."""

    def __init__(self, table: tuple[Intent, ...], alpha: float = 0.3) -> None:
        self._counts = {i.name: Counter(f for e in i.examples for f in features(e)) for i in table}
        self._vocab = {f for c in self._counts.values() for f in c}
        self._alpha = alpha
        self._totals = {name: sum(c.values()) for name, c in self._counts.items()}

    def classify(self, text: str) -> Guess:
        feats = [f for f in features(text) if f in self._vocab]
        if not feats:
            return Guess("unknown", 0.0)
        size = len(self._vocab)
        scores = {
            name: sum(
                math.log((counts[f] + self._alpha) / (self._totals[name] + self._alpha * size))
                for f in feats
            )
            for name, counts in self._counts.items()
        }
        best = max(scores, key=lambda n: scores[n])
        # Feature counts grow with the sentence; scale so confidence is per-feature evidence.
        scale = 1.0 / max(1.0, len(feats) / 8)
        norm = sum(math.exp((s - scores[best]) * scale) for s in scores.values())
        evidence = {f for f in feats if f.startswith("w:") and self._counts[best][f]}
        return Guess(best, 1.0 / norm, len(evidence))


CLASSIFIER = NaiveBayes(TABLE)


def classify(text: str) -> Guess:
    return CLASSIFIER.classify(text)


# -- routing: the table's tool, the desk that owns it, the graph's next hop ----------------


@functools.cache
def owner_of(tool: str) -> str | None:
    """The desk whose own tools include `tool` (read from the desk classes, not restated)."""
    for desk, agent in AGENTS.items():
        own = (get_function_info(t).name for t in find_function_tools(agent) if is_function_tool(t))
        if tool in own:
            return desk
    return None


class _Tools(Protocol):
    def has(self, tool: str) -> bool: ...


def _distance(start: str, goal: str) -> int:
    seen, frontier, steps = {start}, {start}, 0
    while frontier and goal not in frontier:
        frontier = {n for d in frontier for n in EDGES.get(d, frozenset())} - seen
        seen |= frontier
        steps += 1
    return steps if goal in frontier else len(EDGES) + 1


def next_hop(desk_tools: _Tools, goal: str) -> str | None:
    """The neighbour this desk transfers to on the way to `goal` over the handoff graph: the
    goal itself when it is one, else the nearest one, the greeter on a tie (it re-triages)."""
    hops = [d for d in (goal, GREETER, *sorted(EDGES)) if desk_tools.has(transfer_tool_name(d))]
    return min(hops, key=lambda hop: _distance(hop, goal)) if hops else None
