"""`workbench sparse learn | code`: artefacts, JSON, resume, patches, bad input."""

import json

import numpy as np
import pytest

from workbench.cli import main
from workbench.nn.runtime.seeds import numpy_rng
from workbench.sparse import lasso_objective
from workbench.sparse.cli import _patches


def run(capsys, *args):
    assert main([*args, "--threads", "1", "--device", "cpu", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    out = tmp_path_factory.mktemp("sparse")
    args = ["sparse", "learn", "--data", "digits", "--atoms", "16", "--alpha", "0.3",
            "--epochs", "1", "--batch-size", "100", "--out", str(out)]  # fmt: skip
    return out, args


def test_learn_then_resume_then_code(learned, capsys):
    out, args = learned
    first = run(capsys, *args)
    assert {"atoms", "training", "atoms_npy"} <= set(first["files"])
    assert all((out / f"{name}.png").is_file() for name in ("atoms", "training"))
    assert json.loads((out / "metrics.json").read_text())["final"] == first["final"]
    atoms = np.load(out / "atoms.npy")
    assert atoms.shape == (16, 64)
    np.testing.assert_allclose(np.linalg.norm(atoms, axis=1), 1.0, atol=1e-5)
    final = first["final"]
    assert final["evaluated_on"] == "test" and final["rows"] == 360
    assert 0 < final["nonzero"] < 1 and final["reconstruction_error"] > 0
    resumed = run(capsys, *[a if a != "1" else "2" for a in args], "--resume")
    assert [h["epoch"] for h in resumed["history"]] == [1, 2]
    assert resumed["history"][0] == first["history"][0]

    coded = run(capsys, "sparse", "code", "--data", "digits", "--dictionary",
                str(out / "dictionary.pt"), "--tol", "1e-4", "--out", str(out))  # fmt: skip
    codes = np.load(out / "codes.npy")
    assert codes.shape == (1797, 16) and coded["alpha"] == 0.3  # the dictionary's own alpha
    from workbench.data import load_dataset

    X = np.concatenate([load_dataset("digits", split=s).X for s in ("train", "test")])
    atoms = np.load(out / "atoms.npy")
    assert coded["objective"] == pytest.approx(lasso_objective(X, atoms, codes, 0.3).mean())
    by_npy = run(capsys, "sparse", "code", "--data", "digits", "--dictionary",
                 str(out / "atoms.npy"), "--alpha", "0.3", "--tol", "1e-4",
                 "--out", str(out), "--overwrite")  # a second `sparse code` run here  # fmt: skip
    assert by_npy["objective"] == pytest.approx(coded["objective"], rel=1e-6)


def test_patches_are_windows_of_the_images():
    X = np.arange(2 * 5 * 6, dtype=float).reshape(2, 30)
    patches = _patches(X, (5, 6), 3, 50, numpy_rng(0, "patches", 0))
    images = X.reshape(2, 5, 6)
    windows = {images[i, r : r + 3, c : c + 3].tobytes()
               for i in range(2) for r in range(3) for c in range(4)}  # fmt: skip
    assert patches.shape == (50, 9)
    assert all(p.reshape(3, 3).tobytes() in windows for p in patches)


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--atoms", "0"], "--atoms"),
        (["--patch", "9"], "--patch"),
        (["--alpha", "-1"], "--alpha"),
    ],
)
def test_bad_input_names_the_flag(args, flag, tmp_path, capsys):
    code = main(["sparse", "learn", "--data", "digits", *args, "--out", str(tmp_path)])
    assert code == 2
    assert flag in capsys.readouterr().err


def test_code_with_a_missing_dictionary_names_the_flag(tmp_path, capsys):
    missing = str(tmp_path / "none.pt")
    code = main(["sparse", "code", "--data", "digits", "--dictionary", missing,
                 "--out", str(tmp_path)])  # fmt: skip
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert error.endswith(f"--dictionary: no such checkpoint file: {missing}")
