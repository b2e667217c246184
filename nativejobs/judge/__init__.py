"""LLM judges for open-ended answers: single-answer 1–5 Likert grading, MT-Bench style.

The pieces::

    judge_messages, NUDGE, PROMPT_VERSION   the prompt (the paper's Fig. 7 = MT-Bench single-v1, 1–5)
    parse_rating(text) -> int | None         the last [[N]] of a verdict, N in 1..5
    grade(judge, pairs, tries=...)           verdicts, unparsable ones asked again with a nudge
    OpenAIJudge, LocalJudge, load_judge      an OpenAI-compatible endpoint, or a local model
    VerdictCache                             verdicts kept in the store: a retry pays nothing twice
    score_verdicts                           verdicts -> judge_<name>_total / _mean records, items

Nothing here imports torch until a ``LocalJudge`` is built.
"""

from nativejobs.judge.cache import VerdictCache as VerdictCache
from nativejobs.judge.grading import Judge as Judge
from nativejobs.judge.grading import Verdict as Verdict
from nativejobs.judge.grading import grade as grade
from nativejobs.judge.judges import JudgeConfig as JudgeConfig
from nativejobs.judge.judges import LocalJudge as LocalJudge
from nativejobs.judge.judges import OpenAIJudge as OpenAIJudge
from nativejobs.judge.judges import load_judge as load_judge
from nativejobs.judge.prompt import NUDGE as NUDGE
from nativejobs.judge.prompt import PROMPT_VERSION as PROMPT_VERSION
from nativejobs.judge.prompt import SYSTEM as SYSTEM
from nativejobs.judge.prompt import TEMPLATE as TEMPLATE
from nativejobs.judge.prompt import judge_messages as judge_messages
from nativejobs.judge.prompt import nudge_messages as nudge_messages
from nativejobs.judge.rating import SCALE as SCALE
from nativejobs.judge.rating import parse_rating as parse_rating
from nativejobs.judge.scores import JudgeScores as JudgeScores
from nativejobs.judge.scores import mean_metric as mean_metric
from nativejobs.judge.scores import score_verdicts as score_verdicts
from nativejobs.judge.scores import total_metric as total_metric

__all__ = [
    "NUDGE", "PROMPT_VERSION", "SCALE", "SYSTEM", "TEMPLATE", "Judge", "JudgeConfig", "JudgeScores",
    "LocalJudge", "OpenAIJudge", "Verdict", "VerdictCache", "grade", "judge_messages",
    "load_judge", "mean_metric", "nudge_messages", "parse_rating", "score_verdicts",
    "total_metric",
]
