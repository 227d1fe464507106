"""The translate example: its date generator (checked by an independent parser, datetime.strptime),
its decoders (greedy and beam search on a hand-made distribution and on the model), the model's
masks, a short training run, checkpoints and the attention plot."""
import datetime
import math
import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.examples import translate
from minigrad.examples.translate import BOS, EOS, PAD

# each format as datetime.strptime reads it (month and weekday names in any case), ordinal suffixes removed
STRPTIME = {"ordinal_of": "%d of %B %Y", "the_ordinal_of": "the %d of %B, %Y", "us_long": "%B %d, %Y",
            "us_ordinal": "%B %d, %Y", "day_month": "%d %B %Y", "day_mon_yy": "%d %b %y", "day_mon_dot": "%d %b. %Y",
            "mon_day": "%b %d %Y", "weekday_us_yy": "%a %m/%d/%y", "us_slash": "%m/%d/%Y",
            "us_slash_padded": "%m/%d/%Y", "year_dots": "%Y.%m.%d", "day_dots": "%d.%m.%Y", "day_dots_yy": "%d.%m.%y",
            "iso": "%Y-%m-%d", "compact": "%Y%m%d", "year_slash": "%Y/%m/%d", "day_mon_dash": "%d-%b-%Y",
            "weekday_long": "%A, %B %d, %Y", "weekday_ordinal": "%A %d %B %Y", "rfc2822": "%a, %d %b %Y",
            "weekday_day_dash": "%a %d-%m-%Y"}
SUFFIXES = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}  # the others: "th"
ORDINAL = re.compile(r"\b(\d{1,2})(st|nd|rd|th)\b", re.IGNORECASE)


def read(text, pattern):
    """The date ``text`` gives when read with strptime's ``pattern``, None if it does not fit it.
    Ordinal suffixes must be the day's; a weekday written must be the date's."""
    match = ORDINAL.search(text)
    if match:
        if match[2].lower() != SUFFIXES.get(int(match[1]), "th"):
            return None
        text = text[:match.start()] + match[1] + text[match.end():]
    try:
        date = datetime.datetime.strptime(text, pattern).date()
    except ValueError:
        return None
    for code, width in (("%A", None), ("%a", 3)):
        if code in pattern and date.strftime("%A")[:width].lower() not in text.lower():
            return None
    return date


def test_the_checker_refuses_wrong_suffixes_and_weekdays():
    assert read("3rd of March 1998", "%d of %B %Y") == datetime.date(1998, 3, 3)
    assert read("3th of March 1998", "%d of %B %Y") is None
    assert read("TUE 03/03/98", "%a %m/%d/%y") == datetime.date(1998, 3, 3)
    assert read("Wed 03/03/98", "%a %m/%d/%y") is None


def test_ordinals():
    days = [1, 2, 3, 4, 10, 11, 12, 13, 14, 21, 22, 23, 24, 30, 31]
    assert [translate.ordinal(d) for d in days] == ["1st", "2nd", "3rd", "4th", "10th", "11th", "12th", "13th", "14th",
                                                    "21st", "22nd", "23rd", "24th", "30th", "31st"]


@pytest.mark.parametrize("date", [datetime.date(1900, 1, 1), datetime.date(1968, 12, 31), datetime.date(1969, 1, 1),
                                  datetime.date(1998, 3, 3), datetime.date(2000, 2, 29), datetime.date(2068, 12, 31),
                                  datetime.date(2069, 1, 1), datetime.date(2099, 12, 31), datetime.date(2011, 11, 22)])
def test_every_format_reads_back_as_its_date_in_every_case(date):
    assert set(STRPTIME) == set(translate.FORMATS)
    names = translate.formats_for(date.year)
    assert len(names) == (len(translate.FORMATS) if 1969 <= date.year <= 2068 else len(translate.FORMATS) - 3)
    for name in names:
        text = translate.render(date, name)
        for written in (text, text.lower(), text.upper()):
            assert read(written, STRPTIME[name]) == date, (name, written)


def test_generated_pairs_have_one_reading_and_their_variety():
    """Every pattern that reads a generated source gives its target (so no format is ambiguous with
    another, and no two-digit year stands for a year strptime would not give it), and at least one does."""
    pairs = translate.generate(3000, np.random.default_rng(5))
    for source, target in pairs:
        dates = {read(source, pattern) for pattern in STRPTIME.values()} - {None}
        assert dates == {datetime.date.fromisoformat(target)}, source
    years = [int(target[:4]) for _, target in pairs]
    assert min(years) < 1905 and max(years) > 2094
    sources = [source for source, _ in pairs]
    assert any(s.isupper() for s in sources) and any(s.islower() for s in sources) and \
        any(s[0].isupper() and not s.isupper() for s in sources)
    assert max(map(len, sources)) < translate.MAX_SOURCE


def test_seeds_give_the_same_pairs_and_other_seeds_other_ones():
    a, b = translate.generate(2000, np.random.default_rng(0)), translate.generate(2000, np.random.default_rng(0))
    assert a == b
    other = {source for source, _ in translate.generate(2000, np.random.default_rng([0, 1]))}
    assert len(other & {source for source, _ in a}) < 40  # 2%: the same string needs the same date, format and case


def test_held_out_pairs_are_not_training_pairs():
    mg.manual_seed(0)
    train, held = translate.split_data(3000, 3000, 0, "test")
    assert len(held) > 2900 and not {s for s, _ in train} & {s for s, _ in held}
    mg.manual_seed(0)
    kept, validation = translate.split_data(3000, 3000, 0, "validation")
    assert len(kept) == 2400 and len(validation) == 600 and set(kept) | set(validation) <= set(train)


def test_vocabularies_encode_with_pad_bos_eos_and_decode():
    ids = translate.TARGET.encode(["1998-03-03", "2"], bos=True, eos=True)
    assert ids.shape == (2, 12) and ids[0, 0] == BOS and ids[0, -1] == EOS and list(ids[1, 2:]) == [EOS] + [PAD] * 9
    assert translate.TARGET.decode(ids[0, 1:]) == "1998-03-03" and translate.TARGET.decode(ids[1, 1:]) == "2"
    src = translate.SOURCE.encode(["Tue 03/03/98"], eos=True)
    assert translate.SOURCE.decode(src[0]) == "Tue 03/03/98"


A, B = 3, 4  # two characters of hand-made distributions: P(next | prefix), EOS after any other prefix
TABLE = {(BOS,): {A: 0.6, B: 0.4}, (BOS, A): {A: 0.4, B: 0.3, EOS: 0.3}, (BOS, A, A): {EOS: 1.0},
         (BOS, A, B): {EOS: 1.0}, (BOS, B): {A: 0.9, EOS: 0.1}, (BOS, B, A): {EOS: 1.0}}
SHORT_OR_LONG = {(BOS,): {EOS: 0.55, A: 0.45}, (BOS, A): {A: 1.0}, (BOS, A, A): {EOS: 1.0}}


def table_step(table):
    """A decoder's step function (prefixes, rows) → log P(next) that looks the prefixes up in ``table``."""
    def step(prefixes, rows):
        out = np.zeros((len(prefixes), 5))
        for i, prefix in enumerate(prefixes):
            for token, p in table.get(tuple(prefix), {EOS: 1.0}).items():
                out[i, token] = p
        with np.errstate(divide="ignore"):
            return np.log(out)
    return step


def test_beam_search_finds_the_likelier_sequence_greedy_misses():
    """Greedy takes A (0.6), then A (0.4): P = 0.24; the beam keeps B (0.4), then A (0.9): P = 0.36."""
    greedy = translate.greedy(table_step(TABLE), 2)
    np.testing.assert_array_equal(greedy, [[A, A, EOS]] * 2)
    for k in (2, 3, 4):  # with 4 "A EOS" (P 0.18) finishes first, and the other beams go on
        ids, scores = translate.beam_search(table_step(TABLE), 2, k=k)
        np.testing.assert_array_equal(ids, [[B, A, EOS]] * 2)
        np.testing.assert_allclose(scores, math.log(0.36) / 3, rtol=1e-9)
    ids, scores = translate.beam_search(table_step(TABLE), 1, k=1)
    np.testing.assert_array_equal(ids, greedy[:1])
    np.testing.assert_allclose(scores, math.log(0.24) / 3, rtol=1e-9)


def test_beam_search_scores_by_length_normalised_log_probability():
    """EOS at once (log 0.55 / 1 = -0.60) is likelier than "A A EOS" (log 0.45 = -0.80) but loses to it by
    log-probability per character (-0.80 / 3 = -0.27); a hypothesis still going at max_len counts, scored
    over max_len characters."""
    np.testing.assert_array_equal(translate.greedy(table_step(SHORT_OR_LONG), 1), [[EOS]])
    ids, scores = translate.beam_search(table_step(SHORT_OR_LONG), 1, k=2)
    np.testing.assert_array_equal(ids, [[A, A, EOS]])
    np.testing.assert_allclose(scores, [math.log(0.45) / 3], rtol=1e-9)
    ids, scores = translate.beam_search(table_step(TABLE), 1, k=2, max_len=1)
    np.testing.assert_array_equal(ids, [[A]])
    np.testing.assert_allclose(scores, [math.log(0.6)], rtol=1e-9)


def sequence_log_prob(model, source, ids):
    """log P(ids | source) under the model by teacher forcing: the whole target in one forward pass."""
    with mg.no_grad():
        model.eval()
        tgt = np.concatenate([[[BOS]], ids[None]], 1)
        logits = model(translate.SOURCE.encode([source], eos=True), tgt[:, :-1]).numpy()[0].astype(np.float64)
        model.train()
    logits[:, [PAD, BOS]] = -np.inf  # never a next character
    logits -= logits.max(-1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return log_p[np.arange(len(ids)), ids].sum()


@pytest.fixture(scope="module")
def trained():
    """A short run (a small model) and its model, trained by run()."""
    kept = []
    original = translate.Translator

    def keep(*args, **kwargs):
        kept.append(original(*args, **kwargs))
        return kept[-1]
    translate.Translator = keep
    try:
        out = translate.run(max_steps=180, epochs=1, num_train=11_520, num_test=150, d_model=32, dim_feedforward=64,
                            warmup=30, lr=1e-2, beam=3)
    finally:
        translate.Translator = original
    return out, kept[0]


def test_a_short_run_beats_the_untrained_exact_match(trained):
    out, _ = trained
    assert out["metric_name"] == "test_exact_match" and out["steps"] == 180
    # untrained: 0 (a guess is right with odds ~1 / 73,000); 180 steps get ~15%
    assert out["metric"] > 0.08 and out["greedy_exact_match"] > 0.08
    assert np.mean([loss for _, _, loss in out["history"][-10:]]) < 0.5 * out["history"][0][2]


@pytest.mark.parametrize("which", ["untrained", "trained"])
def test_beam_of_one_is_greedy_and_its_scores_are_the_model_s_log_probs(trained, which):
    model = translate.Translator(d_model=32, dim_feedforward=64) if which == "untrained" else trained[1]
    sources = [s for s, _ in translate.generate(40, np.random.default_rng(9))]
    with mg.no_grad():
        model.eval()
        step = translate.next_log_probs(model, *model.encode(translate.SOURCE.encode(sources, eos=True)))
        greedy = translate.greedy(step, len(sources))
        one, _ = translate.beam_search(step, len(sources), k=1)
        beam, scores = translate.beam_search(step, len(sources), k=3)
        alone = [translate.beam_search(lambda prefixes, rows: step(prefixes, rows + i), 1, k=3) for i in (0, 7)]
        model.train()
    np.testing.assert_array_equal(one, greedy)
    for i, (ids, score) in zip((0, 7), alone):  # batched as alone
        np.testing.assert_array_equal(ids[0], beam[i, :ids.shape[1]])
        np.testing.assert_allclose(score, scores[i], rtol=1e-5)
    for i in range(3):  # the beam's scores are log P by teacher forcing / length
        ids = beam[i][:list(beam[i]).index(EOS) + 1] if EOS in beam[i] else beam[i]
        np.testing.assert_allclose(scores[i], sequence_log_prob(model, sources[i], ids) / len(ids), rtol=1e-4)


def test_beam_search_is_at_least_as_likely_as_greedy_on_a_hand_case(trained):
    model = trained[1]
    source = "3rd of March 1998"
    greedy_ids = translate.TARGET.encode([translate.translate(model, [source])[0]], eos=True)[0]
    beam_ids = translate.TARGET.encode([translate.translate(model, [source], beam=4)[0]], eos=True)[0]
    assert sequence_log_prob(model, source, beam_ids) / len(beam_ids) >= \
        sequence_log_prob(model, source, greedy_ids) / len(greedy_ids) - 1e-6


def test_padding_and_later_target_characters_change_nothing_before_them():
    """A source padded in a batch beside a longer one gives the same logits (key-padding masks), and a
    target's later characters do not reach the logits at earlier positions (the causal mask)."""
    model = translate.Translator(d_model=16, nhead=2, layers=1, dim_feedforward=32)
    model.eval()
    tgt = translate.TARGET.encode(["1998-03-03", "2011-11-22"], bos=True)
    alone = model(translate.SOURCE.encode(["3 mar 98"], eos=True), tgt[:1]).numpy()
    batched = model(translate.SOURCE.encode(["3 mar 98", "Wednesday, November 22nd, 2011"], eos=True), tgt).numpy()
    np.testing.assert_allclose(batched[0], alone[0], rtol=1e-4, atol=1e-6)
    changed = tgt[:1].copy()
    changed[0, -1] = translate.TARGET.stoi["7"]
    later = model(translate.SOURCE.encode(["3 mar 98"], eos=True), changed).numpy()
    np.testing.assert_allclose(later[0, :-1], alone[0, :-1], rtol=1e-5, atol=1e-7)
    assert not np.allclose(later[0, -1], alone[0, -1])


def test_cross_attention_rows_are_distributions_over_the_source(trained):
    model = trained[1]
    weights = translate.cross_attention(model, "Tue 03/03/98", "1998-03-03")
    assert weights.shape == (11, 13)
    np.testing.assert_allclose(weights.sum(1), 1, rtol=1e-5)
    attention = model.transformer.decoder.layers[-1].multihead_attn
    assert not attention._forward_hooks and not attention._forward_pre_hooks  # the hooks are gone


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "attention.png"
    out = translate.run(max_steps=2, epochs=1, num_train=640, num_test=20, d_model=16, dim_feedforward=32, beam=2,
                        plot=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"plot: {path}" in out["report"]


def test_save_resume_continues_bitwise(tmp_path):
    """An epoch of 10 steps, saved, then resumed to 2 epochs == 2 epochs straight."""
    options = dict(num_train=640, num_test=30, d_model=16, dim_feedforward=32, layers=1, beam=2, warmup=5)
    straight = translate.run(epochs=2, **options)
    translate.run(epochs=2, max_steps=10, save=tmp_path / "run.safetensors", **options)  # the first epoch
    resumed = translate.run(epochs=2, resume=tmp_path / "run.safetensors", **options)
    assert [(step, loss) for step, _, loss in resumed["history"]] == \
        [(step, loss) for step, _, loss in straight["history"][10:]]
    assert resumed["metric"] == straight["metric"]


def test_command_line_and_validation_split(capsys, monkeypatch):
    from minigrad.examples import common
    monkeypatch.setattr(common, "tqdm", None)
    argv = ["--epochs", "1", "--max-steps", "2", "--num-train", "640", "--num-test", "20", "--d-model", "16",
            "--beam", "2", "--label-smoothing", "0.1", "--dropout", "0.1"]
    assert translate.main(argv) == 0
    printed = capsys.readouterr().out
    assert "test_exact_match:" in printed and "beam search (k=2)" in printed and "→" in printed
    out = translate.run(max_steps=1, epochs=1, num_train=640, d_model=16, beam=1, split="validation")
    assert out["metric_name"] == "validation_exact_match" and 0 <= out["metric"] <= 1
    with pytest.raises(ValueError, match="split must be one of"):
        translate.run(max_steps=1, split="train")
