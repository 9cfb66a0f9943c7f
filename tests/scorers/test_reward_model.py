"""The reward-model scorer on a tiny real sequence-classification model built and saved here (random
weights, a word-level tokenizer with a chat template; no hub), through the library and the real CLI."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from monkeys.core import Problem, Prompt, Sample
from monkeys.registry import create

pytest.importorskip("transformers")

MONKEYS = str(Path(sys.executable).parent / "monkeys")
CHAT_TEMPLATE = ("{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }} </s> {% endfor %}")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama reward model (hidden size 16) with a pad token, saved as a model directory."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForSequenceClassification, PreTrainedTokenizerFast

    out = tmp_path_factory.mktemp("tiny-reward")
    words = ["<pad>", "<unk>", "<s>", "</s>", "<user>", "<assistant>", *"abcdefghijklmnopqrstuvwxyz0123456789",
             "def", "return", "(", ")", ":", "+", "-", "*", "=", ",", "."]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", bos_token="<s>",
                                   eos_token="</s>")
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(words), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                         num_labels=1, pad_token_id=0)
    LlamaForSequenceClassification(config).save_pretrained(out)
    return out


PROBLEM = Problem("p", Prompt(messages=({"role": "user", "content": "a b c"},)))


def _sample(i: int, text: str) -> Sample:
    return Sample("p", i, 0, text)


def test_batched_scores_equal_one_at_a_time(tiny_model: Path) -> None:
    scorer = create("scorer", "reward-model", model=str(tiny_model), dtype="float32", batch_size=3)
    texts = ["a", "b c d e f g", "def f ( x ) : return x + 1", "", "1 2 3", "z"]
    samples = [_sample(i, t) for i, t in enumerate(texts)]
    batched = scorer.score_many(PROBLEM, samples)
    single = [scorer.score(PROBLEM, s) for s in samples]
    assert all(math.isfinite(v) for v in batched)
    assert len(set(round(v, 6) for v in single)) > 1  # a real model: different texts score differently
    assert batched == pytest.approx(single, abs=1e-5)
    scorer.close()


def test_missing_model_asks_for_a_directory(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"model=<local directory>"):
        create("scorer", "reward-model", model=str(tmp_path / "nowhere"))


def test_cli_run_stores_a_reward_per_sample(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.run([MONKEYS, "run", "--sampler", "scripted", "--task", "humaneval", "--problems", "3",
                           "-n", "4", "--scorer", "reward-model", "--scorer-option", f"model={tiny_model}",
                           "--scorer-option", "dtype=float32", "--out", str(out), "--no-report"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    db = sqlite3.connect(out / "monkeys.db")
    rows = db.execute("SELECT s.problem_id, s.sample_index, sc.value FROM scores sc JOIN samples s"
                      " USING (sample_id) WHERE sc.scorer = 'reward-model'").fetchall()
    config = db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0]
    db.close()
    assert len(rows) == 12 and all(math.isfinite(v) for _, _, v in rows)
    assert str(tiny_model) in config  # the option is part of the stored run config
    # Resuming with another model for the same scorer would mix two meanings under one name: refused.
    proc = subprocess.run([MONKEYS, "run", "--sampler", "scripted", "--task", "humaneval", "--problems", "3",
                           "-n", "4", "--scorer", "reward-model", "--scorer-option", f"model={tmp_path}",
                           "--out", str(out), "--no-report"], capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "scorer_options.reward-model.model" in proc.stderr
