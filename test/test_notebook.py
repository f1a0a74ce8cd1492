"""inference.ipynb runs headless (nbclient) against a tiny run trained here from scratch."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from lstm_se import prepare, train

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "inference.ipynb"


@pytest.fixture(scope="module")
def tiny_run(tiny_corpus, tmp_path_factory) -> Path:
    from lstm_se import config

    tmp = tmp_path_factory.mktemp("nb")
    cfg = config.from_dict(
        {
            "dset": {"wav": str(tiny_corpus), "save_path": str(tmp / "records"),
                     "segment": 0.5, "split": 0.75, "shard_mb": 0.5, "workers": 1},
            "model": {"layers": 1, "units": 8},
            "train": {"name": "nb", "audio_every": 0},
            "epochs": 1, "steps": 2, "batch_size": 4, "folder": str(tmp / "result"),
        }
    )  # fmt: skip
    prepare.prepare(cfg, progress=False)
    return train.run(cfg, verbose=0)


def test_notebook_runs_headless(tiny_run, tmp_path, monkeypatch):
    # The first (parameters) cell reads the run folder from the environment.
    monkeypatch.setenv("LSTM_SE_RUN", str(tiny_run))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert "parameters" in nb.cells[1].metadata.get("tags", [])
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError with the failing cell on any error
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    data = [o.get("data", {}) for o in outputs]
    assert sum("image/png" in d for d in data) >= 2  # waveforms and spectrograms
    assert sum("Audio" in d.get("text/plain", "") for d in data) == 3  # noisy, enhanced, clean
    text = "".join(o.get("text", "") for o in outputs) + "".join(
        d.get("text/markdown", "") for d in data
    )
    assert "| PESQ-WB |" in text and str(tiny_run) in text
