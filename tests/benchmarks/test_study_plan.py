"""benchmarks/study.py's plan on lwkd compare's runner: the runs it hands to run_all, what counts as finished (the
first 125 runs' wall_seconds.json as well as compare_run.json), and the selection from the grid."""

import argparse
import json
import os
from pathlib import Path

import pytest

from lwkd_hf.scripts.compare import command


@pytest.fixture
def plan(study, tmp_path):
    args = argparse.Namespace(runs_dir=str(tmp_path / "runs"), data_root="DATA", jobs=2, seeds=[0, 1],
                              tuning_seeds=[100], grid_size=None, methods=None, max_train_samples=None,
                              max_eval_samples=None, extra=[], teacher_epochs=10, gpus_per_run=None, cells=None)
    return study.Study(args)


def finish(run: dict, marker: str, wall: float = 12.5) -> None:
    """A finished run's marker: the example script's ``wall_seconds.json`` or compare's record of its command."""
    directory = Path(run["dir"])
    directory.mkdir(parents=True)
    (directory / marker).write_text(json.dumps({"wall_seconds": wall, "command": command(run)}))


def test_teachers_and_runs_are_lwkd_commands_writing_into_their_folders(study, plan, tmp_path):
    runs = tmp_path / "runs"
    t1, kd_teacher, light = plan.teacher_runs([1])
    assert (t1["program"], t1["method"], t1["seed"]) == ("teacher", "T1", 1)
    assert t1["argv"] == ["--num-classes", "10", "--mnist-dir", os.path.join("DATA", "mnist"), "--seed", "1",
                          "--epochs", "10", "--overwrite", "--output", str(runs / "teachers" / "T1-seed1")]
    assert kd_teacher["program"] == "train" and kd_teacher["argv"][-6:] == [
        "--model", "textrcnn", "--method", "sup", "--output_dir", str(runs / "kd_teacher" / "textrcnn")]
    assert "--embeddings_file" not in light["argv"]
    lwkd = plan.run("paper", "lwkd", study.PAPER["lwkd"], 1)
    folder = runs / "runs" / "lwkd" / "alpha0.5-tau6-klnone-beta0.1-dlr0.1" / "seed1"
    assert lwkd["dir"] == str(folder.resolve()) and lwkd["argv"][-2:] == ["--output_dir", str(folder)]
    assert lwkd["argv"][lwkd["argv"].index("--teacher_dir") + 1] == str(runs / "teachers" / "T1-seed1")
    kd = plan.run("paper", "kd", study.PAPER["kd"], 0)
    assert kd["argv"][kd["argv"].index("--kd_teacher_dir") + 1] == str(runs / "kd_teacher" / "textrcnn")
    assert lwkd["threads"] == max(1, (os.cpu_count() or 1) // 2)
    assert len(plan.grid_runs()) == 25 and len(plan.paper_runs()) == 10  # sup once, four methods six times


def test_finished_runs_of_either_runner_are_skipped_and_shared_folders_run_once(study, plan, tmp_path):
    paper = plan.paper_runs()
    finish(paper[0], "wall_seconds.json")  # sup seed 0, made by the example script
    finish(paper[1], study.FINISHED)  # lsr seed 0, made by lwkd compare's runner
    todo = plan.to_run(paper + paper)
    assert len(todo) == len(paper) - 2 and len({r["dir"] for r in todo}) == len(todo)
    assert [(r["method"], r["seed"]) for r in todo][:3] == [("tfkd", 0), ("kd", 0), ("lwkd", 0)]
    assert study.wall_seconds(Path(paper[0]["dir"])) == 12.5 and study.wall_seconds(Path(paper[1]["dir"])) == 12.5
    plan.args.methods = ["lwkd"]
    assert {r["method"] for r in plan.to_run(paper)} == {"lwkd"}
    other = dict(paper[1], argv=paper[1]["argv"] + ["--learning_rate", "5e-4"])  # the same folder, another command
    with pytest.raises(ValueError, match="holds a run made as `lwkd train .*`, not as"):
        plan.to_run([other])


def test_a_teacher_without_its_weights_is_trained_again(study, plan):
    t1, kd_teacher, _ = plan.teacher_runs([0])
    finish(t1, "wall_seconds.json")  # restored from records.tar.gz: JSON only
    finish(kd_teacher, study.FINISHED)
    (Path(kd_teacher["dir"]) / "model.safetensors").write_bytes(b"weights")
    todo = plan.to_run([t1, kd_teacher])
    assert [r["method"] for r in todo] == ["T1"] and not Path(t1["dir"]).exists()
    assert (Path(kd_teacher["dir"]) / "model.safetensors").is_file()


def test_selection_is_the_best_mean_dev_accuracy_ties_to_the_paper_setting(study):
    def row(method, settings, accuracy):
        return {"method": method, "config": study.config_name(settings), "eval_accuracy": accuracy}

    lsr, kd = study.GRIDS["lsr"], study.GRIDS["kd"]
    rows = [row("lsr", lsr[2], 0.86), row("lsr", lsr[2], 0.88), row("lsr", lsr[0], 0.89), row("lsr", lsr[0], 0.84),
            row("lsr", lsr[4], 0.80), row("kd", kd[3], 0.85), row("kd", kd[0], 0.85)]
    selected = study.select(rows)
    assert selected["lsr"] == lsr[2]  # 0.870 against 0.865 and 0.80
    assert selected["kd"] == kd[0]  # a tie: the paper's setting, listed first, though its row came second
    assert selected["lwkd"] == study.PAPER["lwkd"]  # no grid run


def test_each_cell_plans_its_teachers_and_runs_at_the_transferred_and_paper_settings(study, plan, tmp_path):
    runs = tmp_path / "runs"
    selected = {m: configs[3] if len(configs) > 1 else configs[0] for m, configs in study.GRIDS.items()}  # tau2 for LW-KD
    protocol_b, toutiao, textrcnn = study.CELLS
    assert [m for m, _ in study.cell_plan(protocol_b, selected)] == ["lwkd", "sup", "lwkd", "lsr", "tfkd", "kd"]
    assert len(study.cell_plan(toutiao, selected)) == 13  # sup once; lsr, tfkd, kd, lwkd and the two ablations twice
    assert plan.cell_teacher_runs(protocol_b) == [] and plan.cell_teacher_runs(textrcnn) == []  # the first cell's
    t2, kd_teacher = plan.cell_teacher_runs(toutiao)[0], plan.cell_teacher_runs(toutiao)[-1]
    assert t2["argv"][:2] == ["--num-classes", "15"] and t2["dir"] == str((runs / "teachers" / "T2-seed0").resolve())
    assert kd_teacher["argv"][:4] == ["--dataset", "toutiao", "--data_dir", os.path.join("DATA", "toutiao")]
    lwkd = plan.cell_runs(toutiao, selected)[0]
    assert lwkd["argv"][lwkd["argv"].index("--teacher_dir") + 1] == str(runs / "teachers" / "T2-seed0")
    assert lwkd["dir"].startswith(str((runs / "toutiao-textcnn" / "lwkd").resolve()))
    kd = next(r for r in plan.cell_runs(toutiao, selected) if r["method"] == "kd")
    assert kd["argv"][kd["argv"].index("--kd_teacher_dir") + 1] == str(runs / "kd_teacher" / "textrcnn-toutiao")
    b = plan.cell_runs(protocol_b, selected)[0]
    assert "--early_stopping_patience" not in b["argv"]
    assert b["argv"][b["argv"].index("--metric_for_best_model") + 1] == "accuracy"
    first = plan.cell_runs(textrcnn, selected)[0]["argv"]
    assert first[first.index("--model") + 1] == "textrcnn"


def test_the_textrcnn_cell_trains_at_the_checked_learning_rate_with_the_best_dev_accuracy(study, plan, monkeypatch):
    textrcnn = study.CELLS[2]
    check = plan.learning_rate_runs(textrcnn)
    assert [(r["phase"], r["method"], r["seed"]) for r in check] == [("thucnews-textrcnn-lr", "sup", 100)] * 2
    assert [r["dir"].split(os.sep)[-4:] for r in check] == [
        ["thucnews-textrcnn-lr", "sup", "lr1e-3", "seed100"], ["thucnews-textrcnn-lr", "sup", "lr0.1", "seed100"]]
    fast = check[1]["argv"]
    assert fast[fast.index("--learning_rate") + 1] == "0.1" and fast.count("--learning_rate") == 1
    assert fast[fast.index("--num_train_epochs") + 1] == "2" and fast.count("--num_train_epochs") == 1
    assert fast[fast.index("--model") + 1] == "textrcnn"
    plan.args.methods = ["lwkd"]
    assert plan.to_run(check) == check  # a check runs whatever --methods says: the cell's commands depend on it

    def rate_of(run):
        return run["argv"][run["argv"].index("--learning_rate") + 1]

    selected = {m: configs[0] for m, configs in study.GRIDS.items()}
    protocol_run = plan.cell_runs(textrcnn, selected)[0]
    assert plan.cell_learning_rate(textrcnn) is None and rate_of(protocol_run) == "1e-3"  # no check finished yet
    dev = {"lr1e-3": 0.80, "lr0.1": 0.81}
    monkeypatch.setattr(study, "read_records", lambda runs, folder: [
        {"config": name, "eval_accuracy": accuracy} for name, accuracy in dev.items()])
    assert plan.cell_learning_rate(textrcnn) == "0.1" and rate_of(plan.cell_runs(textrcnn, selected)[0]) == "0.1"
    dev["lr0.1"] = 0.80  # a tie keeps the protocol's own rate: the same command as without the check
    assert plan.cell_runs(textrcnn, selected)[0] == protocol_run
    assert plan.cell_learning_rate(study.CELLS[1]) is None  # ToutiaoNews has no check


def test_merge_adds_whole_finished_run_folders_and_keeps_those_finished_here(study, tmp_path):
    import tarfile

    made = tmp_path / "gpu"
    for run in ("protocol-b/sup/default/seed1", "protocol-b/lsr/eps0.4/seed1", "teachers/T2-seed0"):
        (made / run).mkdir(parents=True)
        (made / run / study.FINISHED).write_text("{}")
        (made / run / "all_results.json").write_text('{"where": "gpu"}')
    archive = tmp_path / "study-runs.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(made, arcname=".")
    runs = tmp_path / "runs"
    (runs / "protocol-b/sup/default/seed1").mkdir(parents=True)  # finished here too: kept
    (runs / "protocol-b/sup/default/seed1" / study.FINISHED).write_text("{}")
    (runs / "protocol-b/sup/default/seed1" / "all_results.json").write_text('{"where": "cpu"}')
    (runs / "protocol-b/lsr/eps0.4/seed1/checkpoint-100").mkdir(parents=True)  # under way here: replaced whole
    added = study.merge(archive, runs)
    assert sorted(p.relative_to(runs).as_posix() for p in added) == ["protocol-b/lsr/eps0.4/seed1", "teachers/T2-seed0"]
    assert (runs / "protocol-b/sup/default/seed1/all_results.json").read_text() == '{"where": "cpu"}'
    assert sorted(p.name for p in (runs / "protocol-b/lsr/eps0.4/seed1").iterdir()) == ["all_results.json", study.FINISHED]
    assert sorted(p.name for p in runs.iterdir()) == ["protocol-b", "teachers"]  # no temporary folder left


def test_the_rerun_repeats_every_final_run_of_the_first_cell_into_its_own_folder(study, plan, tmp_path):
    selected = {m: configs[3] if len(configs) > 1 else configs[0] for m, configs in study.GRIDS.items()}
    first = plan.tuned_runs(selected) + plan.paper_runs() + plan.paper_ablation_runs()
    rerun = plan.cell_runs(study.RERUN, selected)
    main, again = tmp_path / "runs" / "runs", tmp_path / "runs" / "protocol-a-rerun"
    assert sorted(r["dir"] for r in rerun) == sorted({r["dir"].replace(str(main), str(again)) for r in first})
    assert len(rerun) == 2 * 15  # sup once, lsr/tfkd/kd/lwkd and the two ablations twice, kd-shuffle, w/o SYN
    assert [(r["method"], r["seed"]) for r in rerun[:3]] == [("lwkd", 0), ("sup", 0), ("lwkd", 0)]
    by_dir = {r["dir"].replace(str(main), str(again)): r for r in first}
    for run in rerun:  # the same command but for the folder it writes into
        assert run["argv"] == [a.replace(str(main), str(again)) for a in by_dir[run["dir"]]["argv"]]
    assert not study.rerun_complete(plan, selected)
    for run in rerun[:-1]:
        finish(run, study.FINISHED)
    assert not study.rerun_complete(plan, selected)
    finish(rerun[-1], study.FINISHED)
    assert study.rerun_complete(plan, selected)
    assert [c.folder for c in study.RUN_ORDER] == ["protocol-b", "protocol-a-rerun", "toutiao-textcnn",
                                                   "thucnews-textrcnn"]


def test_the_rerun_section_shows_each_seeds_difference_and_which_reproduce_exactly(study, plan):
    selected = {m: configs[0] for m, configs in study.GRIDS.items()}

    def row(method, seed, accuracy, loss=0.5, commit="abc1234def", transformers="5.25.0"):
        return {"method": method, "config": study.config_name(selected[method]), "seed": seed,
                "test_accuracy": accuracy, "eval_loss": loss, "git_commit": commit,
                "versions": {"torch": "2.13.0", "transformers": transformers}}

    original = [row("sup", 0, 0.8800, transformers="5.24.0"), row("sup", 1, 0.8700, transformers="5.24.0"),
                row("lwkd", 0, 0.8750, transformers="5.24.0"), row("sup", 100, 0.86)]
    rerun = [row("sup", 0, 0.8800), row("sup", 1, 0.8712), row("lwkd", 0, 0.8750, loss=0.51),
             row("lwkd", 1, 0.8800), row("sup", 7, 0.5)]  # lwkd seed 1: no original; seed 7: not planned
    lines = study.rerun_section(plan, original, rerun, selected, replaced=False, changes=[])
    assert lines[0] == "## Protocol A again, from a clean commit"
    assert lines[2].startswith("4 of 18 runs.")  # nine configurations (tuned = paper), two seeds
    assert "the reruns so far ran on `abc1234`. Until every one has finished, the tables above read the original " \
           "runs." in lines[2]
    assert "| lwkd | `alpha0.5-tau6-klnone-beta0.1-dlr0.1` | seed 0 +0.00 | 0 of 1 |" in lines
    assert "| sup | `default` | seed 0 +0.00, seed 1 +0.12 | 1 of 2 |" in lines
    assert lines[-2].startswith("1 of 3 reruns reproduce their original's dev loss and test accuracy exactly; 1 have "
                                "no original run to compare with. Between an original and its rerun the code differs")
    assert lines[-2].endswith("these records cannot tell which of them changed a result. Among the libraries that both "
                              "records of a pair name, versions that differ (number of pairs): where the results "
                              "differ, transformers 5.24.0 → 5.25.0 (2); where they reproduce exactly, transformers "
                              "5.24.0 → 5.25.0 (1).")
    replaced = study.rerun_section(plan, original, rerun, selected, replaced=True, changes=["A: worse → no word"])
    assert replaced[2].endswith("read these reruns, and their comparisons were evaluated afresh, once (words that "
                                "changed: A: worse → no word).")
    same = study.rerun_section(plan, original, rerun[:1], selected, replaced=False, changes=[])
    assert same[-2] == ("1 of 1 reruns reproduce their original's dev loss and test accuracy exactly. Among the "
                        "libraries that both records of a pair name, versions that differ (number of pairs): where they "
                        "reproduce exactly, transformers 5.24.0 → 5.25.0 (1).")


def test_version_changes_compare_only_the_libraries_both_records_name(study):
    before = {"torch": "2.11.0+cu130", "transformers": "5.24.0", "python": "3.11.7"}
    after = {"torch": "2.13.0+cpu", "transformers": "5.24.0", "python": "3.11.7", "accelerate": "1.16.0"}
    assert study.version_changes(before, after) == ["torch 2.11.0+cu130 → 2.13.0+cpu"]
    assert study.version_changes(None, after) == []


def test_the_first_cell_reads_its_reruns_only_once_all_have_finished(study):
    original = [{"seed": 100, "run": "grid"}, {"seed": 0, "run": "original"}, {"seed": 1, "run": "original"}]
    rerun = [{"seed": 0, "run": "rerun"}, {"seed": 1, "run": "rerun"}]
    assert [r["run"] for r in study.first_cell_rows(original, rerun, False)] == ["grid", "original", "original"]
    assert [r["run"] for r in study.first_cell_rows(original, rerun, True)] == ["grid", "rerun", "rerun"]


def test_changed_words_name_each_word_the_rerun_changed(study):
    worse = study.paired_difference({0: 0.80, 1: 0.81}, {0: 0.85, 1: 0.87})
    row = study.VERDICT_ROWS[3]
    before = [{"row": row, "cell": "A", "comparison": worse, "p_holm": 0.01, "complete": True},
              {"row": row, "cell": "B", "comparison": worse, "p_holm": 0.01, "complete": True}]
    after = [dict(before[0], cell="A, rerun", p_holm=0.2), before[1]]
    assert study.changed_words(before, after) == ["LW-KD (tuned) − KD (tuned) in A, rerun: worse → no word"]
    assert study.changed_words(before, before) == []


def test_the_rerun_refuses_a_checkout_with_changes(study, tmp_path):
    import subprocess

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    assert not study.clean_checkout(tmp_path)  # not a checkout
    git("init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    git("add", "a.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a")
    (tmp_path / "untracked.txt").write_text("runs write here")
    assert study.clean_checkout(tmp_path)
    (tmp_path / "a.py").write_text("x = 2\n")
    assert not study.clean_checkout(tmp_path)


def test_a_study_with_reruns_to_do_stops_before_any_run_from_a_checkout_with_changes(study, plan, monkeypatch):
    monkeypatch.setattr(study, "run_all", lambda *args: pytest.fail("a run started"))
    monkeypatch.setattr(study, "clean_checkout", lambda: False)
    with pytest.raises(RuntimeError, match="protocol-a-rerun repeats the first cell's runs to record a clean commit"):
        plan.execute()
    phases = []
    monkeypatch.setattr(study, "run_all", lambda runs, resources, root, phase: phases.append(phase))
    plan.args.cells = ["toutiao-textcnn"]  # without the rerun: no refusal
    plan.execute()
    assert phases == ["teachers", "grid-and-paper", "tuned", "toutiao-textcnn-teachers", "toutiao-textcnn"]


def test_a_final_run_is_fully_recorded_with_hashes_machine_clean_code_and_teacher_hashes(study):
    full = {"file_sha256": {"train.txt": "ab"}, "machine": {"cpu": "X"}, "git_commit": "abc",
            "method": {"teacher_dir": "T1-seed0", "kd_teacher_dir": None},
            "lightweight_teacher": {"weights_sha256": "cd"}}
    assert study.fully_recorded(full)
    assert study.fully_recorded(full | {"git_commit": "abc-dirty", "code_diff": {"sha256": "ef"}})
    assert not study.fully_recorded(full | {"git_commit": "abc-dirty"})
    assert not study.fully_recorded(full | {"git_commit": None})
    assert not study.fully_recorded(full | {"file_sha256": {}})
    assert not study.fully_recorded({k: v for k, v in full.items() if k != "machine"})
    assert not study.fully_recorded(full | {"lightweight_teacher": {"seed": 0}})
    kd = full | {"method": {"teacher_dir": None, "kd_teacher_dir": "textrcnn"}}
    assert not study.fully_recorded(kd)
    assert study.fully_recorded(kd | {"model_teacher": {"weights_sha256": {"model.safetensors": "01"}}})


def test_the_limitations_name_the_cells_that_have_runs(study, plan, monkeypatch):
    ran = {"toutiao-textcnn"}
    monkeypatch.setattr(study, "read_records", lambda runs, folder: [{}] if folder in ran else [])
    plan.args.results_dir = "docs/results/study"
    lines = study.limitations([], plan)
    assert lines[2].startswith("- Cells with runs here (not all complete; the status line at the top): 2 of the "
                               "paper's ten text cells (Table 4: five students on two "
                               "datasets), TextCNN on THUCNews, TextCNN on ToutiaoNews. ")
    ran.add("protocol-b")  # the same student and dataset under another protocol: not another cell
    assert study.limitations([], plan)[2] == lines[2]


def test_a_cell_names_its_own_teachers_accuracy_as_far_as_they_have_finished(study, plan):
    protocol_b, toutiao = study.CELLS[:2]
    assert study.cell_teachers(plan, toutiao) == "" and study.cell_teachers(plan, protocol_b) == ""
    for seed, accuracy in ((0, 0.98055), (1, 0.9791)):
        plan.teacher_dir(seed, "T2").mkdir(parents=True)
        (plan.teacher_dir(seed, "T2") / "config.json").write_text(json.dumps({"test_accuracy": accuracy}))
    kd_teacher = plan.kd_teacher_dir("textrcnn-toutiao")
    kd_teacher.mkdir(parents=True)
    (kd_teacher / "all_results.json").write_text(json.dumps({"test_accuracy": 0.8512}))
    assert study.cell_teachers(plan, toutiao) == ("T2's held-out accuracy on SynMNIST-15: 98.06, 97.91 % (2 seeds). "
                                                  "The KD teacher's test accuracy: 85.12 %. ")
    assert study.cell_teachers(plan, protocol_b) == ""  # the first cell's teachers, shown in its protocol


def test_protocol_agreement_names_each_word_the_checkpoint_rule_changes(study):
    worse = study.paired_difference({0: 0.80, 1: 0.81}, {0: 0.85, 1: 0.87})
    sup, lsr, tfkd, kd = study.VERDICT_ROWS[:4]

    def entry(row, cell, p_holm, complete=True):
        return {"row": row, "cell": cell, "comparison": worse, "p_holm": p_holm, "complete": complete}

    entries = [entry(kd, "A", 0.01), entry(kd, "B", 0.2), entry(lsr, "A", 0.01), entry(lsr, "B", 0.01),
               entry(tfkd, "A", 0.3), entry(tfkd, "B", 0.4), entry(sup, "A", 0.01), entry(sup, "B", 1.0, False)]
    tail = ". Each rule's differences come from its own runs; the two are not tested against each other."
    assert study.protocol_agreement(entries, "A", "B") == (
        "The two checkpoint rules, “A” and “B”: of the 3 comparisons complete in both, 2 get the same word (1 of them "
        "no word in either); 1 does not: LW-KD (tuned) − KD (tuned), worse in “A” but no word in “B”" + tail)
    entries[3] = entry(lsr, "B", 0.2)
    assert study.protocol_agreement(entries, "A", "B").endswith(
        "1 get the same word (1 of them no word in either); 2 do not: LW-KD (tuned) − LSR (tuned), worse in “A” but "
        "no word in “B”; LW-KD (tuned) − KD (tuned), worse in “A” but no word in “B”" + tail)
    assert study.protocol_agreement(entries[4:6], "A", "B").endswith("1 get the same word (1 of them no word in "
                                                                     "either)" + tail)
    assert study.protocol_agreement(entries[6:], "A", "B") == ""
