"""Stacks on Dask: each slice as the 2-D command makes it (bit for bit), every input and output kind, --resume, a
bad slice failing alone, a killed worker, and a scheduler and workers started as separate processes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
import zarr
from typer.testing import CliRunner

from invscat import data
from invscat.cli import app
from invscat.io import load_image
from invscat.stacks import dask_client, map_slices, open_stack
from invscat.tasks import Tomography

runner = CliRunner()
TASK = Tomography(views=20)
ITERS = "60"


@pytest.fixture(scope="module")
def cluster():
    """A local cluster of two worker processes (one thread each), shared by the tests through --scheduler."""
    with dask_client(workers=2) as (client, _):
        yield client.scheduler.address


@pytest.fixture(scope="module")
def sinograms(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stack")
    truth = np.stack([data.shepp_logan(32) * (1 + 0.2 * k) for k in range(4)]).astype(np.float32)
    stack = np.stack([TASK.simulate(image, seed=k)[1] for k, image in enumerate(truth)]).astype(np.float32)
    np.save(folder / "sinograms.npy", stack)
    np.save(folder / "truth.npy", truth)
    return folder, stack


def cli(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture
def one_thread():
    """The 2-D reference runs with one torch thread, as each worker does (thread counts change float sums)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_stack_slices_equal_the_2d_command_bit_for_bit(cluster, sinograms, tmp_path, one_thread):
    folder, stack = sinograms
    code, out = cli("tomo", folder / "sinograms.npy", "-o", tmp_path / "volume.zarr", "--iters", ITERS,
                        "--scheduler", cluster, "--metrics-json", tmp_path / "m.json", "--quiet")
    assert code == 0, out
    volume = zarr.open_array(str(tmp_path / "volume.zarr"), mode="r")
    assert volume.chunks == (1, 32, 32)
    for k in (0, 3):
        np.save(tmp_path / f"slice{k}.npy", stack[k])
        code, out = cli("tomo", tmp_path / f"slice{k}.npy", "-o", tmp_path / f"alone{k}.npy", "--iters", ITERS,
                            "--quiet")
        assert code == 0, out
        np.testing.assert_array_equal(volume[k], np.load(tmp_path / f"alone{k}.npy"))
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert [row["index"] for row in metrics["slices"]] == [0, 1, 2, 3]
    assert metrics["totals"]["reconstructed"] == 4 and metrics["totals"]["failed"] == 0


def test_simulated_superres_stack_equals_the_2d_command(cluster, sinograms, tmp_path, one_thread):
    folder, _ = sinograms
    code, out = cli("superres", folder / "truth.npy", "--simulate", "--factor", "2", "-o", tmp_path / "sr.npy",
                        "--iters", "30", "--seed", "7", "--scheduler", cluster, "--metrics-json", tmp_path / "m.json",
                        "--quiet")
    assert code == 0, out
    np.save(tmp_path / "truth2.npy", np.load(folder / "truth.npy")[2])
    code, out = cli("superres", tmp_path / "truth2.npy", "--simulate", "--factor", "2", "-o",
                        tmp_path / "alone.npy", "--iters", "30", "--seed", "7", "--quiet")
    assert code == 0, out
    np.testing.assert_array_equal(np.load(tmp_path / "sr.npy")[2], np.load(tmp_path / "alone.npy"))
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert all(row["psnr"] > 15 for row in metrics["slices"])
    assert not (tmp_path / ".sr.npy.slices").exists()


def _write_input(kind, stack, folder: Path) -> Path:
    if kind == "npy":
        np.save(folder / "in.npy", stack)
        return folder / "in.npy"
    if kind == "tif":
        tifffile.imwrite(folder / "in.tif", stack, photometric="minisblack")
        return folder / "in.tif"
    if kind == "zarr":
        zarr.open_array(str(folder / "in.zarr"), mode="w", shape=stack.shape, chunks=(2, *stack.shape[1:]),
                        dtype="float32")[:] = stack
        return folder / "in.zarr"
    (folder / "in").mkdir()
    for k, sinogram in enumerate(stack):
        np.save(folder / "in" / f"z{k:02d}.npy", sinogram)
    return folder / "in"


def _read_output(path: Path) -> np.ndarray:
    if path.suffix == ".zarr":
        return zarr.open_array(str(path), mode="r")[:]
    if path.suffix == ".npy":
        return np.load(path)
    if path.suffix == ".tif":
        return tifffile.imread(path)
    return np.stack([load_image(f) for f in sorted(path.iterdir())])


@pytest.mark.parametrize("kind,output", [("npy", "out.tif"), ("tif", "out.zarr"), ("zarr", "out"),
                                         ("directory", "out.npy")])
def test_every_input_and_output_kind_round_trips(cluster, sinograms, tmp_path, kind, output):
    _, stack = sinograms
    source = _write_input(kind, stack, tmp_path)
    code, out = cli("tomo", source, "-o", tmp_path / output, "--method", "fbp", "--scheduler", cluster)
    assert code == 0, out
    assert "wrote" in out and "4 slices" in out
    expected = np.stack([TASK.run(s, "fbp").result.image for s in stack])
    np.testing.assert_allclose(_read_output(tmp_path / output), expected, rtol=0, atol=1e-6)
    if kind == "directory":  # a directory of files gives a directory of files with the same names
        code, out = cli("tomo", source, "-o", tmp_path / "same", "--method", "fbp", "--scheduler", cluster)
        assert sorted(os.listdir(tmp_path / "same")) == sorted(os.listdir(source))
    assert not list(tmp_path.glob(".*")), "no temporary or checkpoint is left behind"


@pytest.mark.parametrize("layout,order", [("tomopy", (1, 0, 2)), ("skimage", (0, 2, 1)), ("astra", (0, 1, 2))])
def test_layouts_of_other_tools(cluster, sinograms, tmp_path, layout, order):
    _, stack = sinograms
    np.save(tmp_path / "in.npy", stack.transpose(order))
    code, out = cli("tomo", tmp_path / "in.npy", "--layout", layout, "-o", tmp_path / "out.npy", "--method",
                        "fbp", "--scheduler", cluster, "--quiet")
    assert code == 0, out
    task = Tomography(views=20, convention="skimage") if layout == "skimage" else TASK  # its grid and centre too
    expected = np.stack([task.run(s, "fbp").result.image for s in stack])
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("output", ["out.zarr", "out.npy"])
def test_a_bad_slice_fails_alone_and_resume_finishes(cluster, sinograms, tmp_path, output):
    _, stack = sinograms
    bad = stack.copy()
    bad[2, 5, 5] = np.nan
    np.save(tmp_path / "in.npy", bad)
    code, out = cli("tomo", tmp_path / "in.npy", "-o", tmp_path / output, "--method", "fbp", "--scheduler",
                        cluster, "--metrics-json", tmp_path / "m.json", "--quiet")
    assert code == 2
    assert "slice 2 " in out and "NaN" in out and "--resume" in out and "Traceback" not in out
    assert len(out.strip().splitlines()) == 1
    assert not (tmp_path / "m.json").exists()
    if output.endswith(".zarr"):
        partial = zarr.open_array(str(tmp_path / output), mode="r")[:]
        assert np.isnan(partial[2]).all() and np.isfinite(partial[[0, 1, 3]]).all()  # no half-written slice
    else:
        assert not (tmp_path / output).exists()  # a .npy stack appears whole or not at all
        assert sorted(os.listdir(tmp_path / f".{output}.slices")) == ["00000.npy", "00001.npy", "00003.npy"]
    np.save(tmp_path / "in.npy", stack)  # the fix
    code, out = cli("tomo", tmp_path / "in.npy", "-o", tmp_path / output, "--method", "fbp", "--scheduler",
                        cluster, "--resume", "--metrics-json", tmp_path / "m.json")
    assert code == 0, out
    assert "3 already complete" in out
    assert json.loads((tmp_path / "m.json").read_text())["totals"]["skipped"] == 3
    expected = np.stack([TASK.run(s, "fbp").result.image for s in stack])
    np.testing.assert_allclose(_read_output(tmp_path / output), expected, rtol=0, atol=1e-6)


def test_a_slice_of_the_wrong_shape_is_named(cluster, sinograms, tmp_path):
    _, stack = sinograms
    (tmp_path / "in").mkdir()
    for k, sinogram in enumerate(stack):
        np.save(tmp_path / "in" / f"{k}.npy", sinogram if k != 1 else sinogram[:, :40])
    code, out = cli("tomo", tmp_path / "in", "-o", tmp_path / "out", "--method", "fbp", "--scheduler", cluster)
    assert code == 2 and "slice 1 " in out and "shape" in out


def test_python_api_maps_numpy_and_dask_stacks(cluster, sinograms, tmp_path):
    import dask.array as da
    from dask.distributed import Client

    _, stack = sinograms
    expected = np.stack([TASK.run(s, "fbp").result.image for s in stack])
    np.testing.assert_allclose(map_slices(TASK, da.from_array(stack, chunks=(3, 20, 47)), "fbp").compute(),
                               expected, atol=1e-6)
    with Client(cluster) as client:
        report = map_slices(TASK, stack, "fbp", output=tmp_path / "v.zarr", client=client)
    assert not report.failed and report.totals()["reconstructed"] == 4
    np.testing.assert_allclose(zarr.open_array(str(tmp_path / "v.zarr"), mode="r")[:], expected, atol=1e-6)


def test_a_2d_input_never_starts_a_cluster(monkeypatch, tmp_path):
    import invscat.stacks

    monkeypatch.setattr(invscat.stacks, "dask_client", None)
    np.save(tmp_path / "one.npy", TASK.simulate(data.shepp_logan(32))[1])
    code, out = cli("tomo", tmp_path / "one.npy", "-o", tmp_path / "x.npy", "--method", "fbp", "--workers", "2")
    assert code == 0, out


@pytest.mark.parametrize("args,message", [
    (["--workers", "0"], "workers must be >= 1"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:9"], "not both"),
    (["-o-is-replaced", "out.png"], "holds one image"),
    (["--figure", "f.png"], "2-D input"),
])
def test_stack_options_fail_in_one_sentence(sinograms, tmp_path, args, message):
    folder, _ = sinograms
    output = ["-o", tmp_path / "out.zarr"]
    if args[0] == "-o-is-replaced":
        output, args = ["-o", tmp_path / args[1]], []
    code, out = cli("tomo", folder / "sinograms.npy", *output, *args, "--method", "fbp")
    assert code == 2 and message in out and "Traceback" not in out, out
    assert not (tmp_path / "out.zarr").exists()


def test_a_killed_worker_loses_no_slice(sinograms, tmp_path):
    """A worker process killed mid-run: the scheduler reruns its slice elsewhere and the volume completes."""
    from invscat.stacks import SliceJob, StackOutput, run_stack

    _, stack = sinograms
    stack = np.concatenate([stack, stack])  # 8 slices
    job = SliceJob(TASK, "tv", (("iters", 1500),), threads=1)
    killed = []

    def kill_after_the_first_slice(done, total):  # mid-run: seven slices are still to come
        if not killed:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(done)

    with dask_client(workers=2) as (client, _):
        pids = list(client.run(os.getpid).values())
        output = StackOutput(tmp_path / "v.zarr", len(stack), (32, 32))
        report = run_stack(job, open_stack(stack), output, client, progress=kill_after_the_first_slice)
    assert killed == [1]
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)
    assert not report.failed and len(report.rows) == 8
    volume = zarr.open_array(str(tmp_path / "v.zarr"), mode="r")[:]
    np.testing.assert_allclose(volume[:4], volume[4:], atol=1e-5)
    assert np.isfinite(volume).all()
    assert not list((tmp_path / "v.zarr").rglob("*.partial"))


def test_an_existing_scheduler_and_workers_started_apart(sinograms, tmp_path):
    """`dask scheduler` and `dask worker` as separate processes on localhost, as on a cluster."""
    folder, stack = sinograms
    dask = str(Path(sys.executable).with_name("dask"))
    address_file = tmp_path / "scheduler.json"
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scheduler = subprocess.Popen([dask, "scheduler", "--scheduler-file", address_file, "--port", "0",
                                  "--no-dashboard", "--host", "127.0.0.1"], **quiet)
    worker = None
    try:
        for _ in range(300):
            if address_file.exists() and address_file.stat().st_size:
                break
            time.sleep(0.1)
        worker = subprocess.Popen([dask, "worker", "--scheduler-file", address_file, "--nthreads", "1",
                                   "--no-dashboard", "--host", "127.0.0.1"], **quiet)
        address = json.loads(address_file.read_text())["address"]
        code, out = cli("tomo", folder / "sinograms.npy", "-o", tmp_path / "v.zarr", "--method", "fbp",
                            "--scheduler", address)
        assert code == 0, out
        assert address in out
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
    expected = np.stack([TASK.run(s, "fbp").result.image for s in stack])
    np.testing.assert_allclose(zarr.open_array(str(tmp_path / "v.zarr"), mode="r")[:], expected, atol=1e-6)


def test_fit_across_workers_equals_the_serial_fit(cluster, tmp_path, one_thread):
    """The workers run one torch thread each; the serial fit too (thread counts change float sums, and TV stops on a
    tolerance)."""
    from invscat.estimators.scattering import ScatteringEstimator
    from invscat.tasks.fit import fit_estimator

    task = Tomography(views=20, size=32)
    code, out = cli("fit", "tomo", "--views", "20", "--size", "32", "--count", "24", "-o", tmp_path / "e.pt",
                    "--scheduler", cluster, "--quiet")
    assert code == 0, out
    spread = ScatteringEstimator.load(tmp_path / "e.pt")
    serial = fit_estimator(task, count=24, size=32)
    assert spread.ridge == serial.ridge
    difference = torch.linalg.norm(spread.weights - serial.weights) / torch.linalg.norm(serial.weights)
    assert difference < 1e-6


def test_ctrl_c_stops_the_local_cluster_and_keeps_completed_slices(sinograms, tmp_path):
    _, stack = sinograms
    np.save(tmp_path / "in.npy", np.concatenate([stack] * 16))  # 64 slices: too many to finish before the interrupt
    # as from a terminal: SIGINT at its default, even where the tests run in the background of a non-interactive
    # shell, whose children inherit SIGINT ignored (and then Python installs no KeyboardInterrupt handler)
    as_from_a_terminal = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                          "os.execv(sys.argv[1], sys.argv[1:])")
    invscat = str(Path(sys.executable).with_name("invscat"))
    command = [sys.executable, "-c", as_from_a_terminal, invscat, "tomo", str(tmp_path / "in.npy"), "-o",
               str(tmp_path / "v.zarr"), "--workers", "2", "--iters", "3000", "--quiet"]
    run = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    chunks = tmp_path / "v.zarr" / "c"
    deadline = time.monotonic() + 120
    while not (chunks.exists() and any(p.is_file() and ".partial" not in p.name for p in chunks.rglob("*"))):
        assert time.monotonic() < deadline and run.poll() is None, "no slice completed"
        time.sleep(0.2)
    os.killpg(run.pid, signal.SIGINT)
    output = run.communicate(timeout=60)[0].decode()
    assert run.returncode != 0 and "Traceback" not in output, output
    deadline = time.monotonic() + 20
    with pytest.raises(ProcessLookupError):  # the workers go with the cluster (within seconds: a solve ends first)
        while time.monotonic() < deadline:
            os.killpg(run.pid, 0)
            time.sleep(0.2)
    volume = zarr.open_array(str(tmp_path / "v.zarr"), mode="r")[:]
    done = ~np.isnan(volume[:, 0, 0])
    assert 0 < done.sum() < 64 and np.isfinite(volume[done]).all()


def test_a_folder_of_colour_photos(cluster, tmp_path, one_thread):
    from skimage.io import imsave

    (tmp_path / "photos").mkdir()
    for k in range(3):
        grey = data.load_sample(data.TRAINING_IMAGES[k], 32)
        photo = np.stack([grey, grey[::-1], grey.T], axis=-1)
        imsave(tmp_path / "photos" / f"p{k}.png", (photo * 255).astype(np.uint8), check_contrast=False)
    code, out = cli("superres", tmp_path / "photos", "--factor", "2", "--iters", "20", "-o", tmp_path / "x2",
                    "--rescale", "--scheduler", cluster, "--quiet")
    assert code == 0, out
    assert sorted(os.listdir(tmp_path / "x2")) == ["p0.png", "p1.png", "p2.png"]
    code, out = cli("superres", tmp_path / "photos" / "p1.png", "--factor", "2", "--iters", "20", "-o",
                    tmp_path / "alone.png", "--rescale", "--quiet")
    assert code == 0, out
    np.testing.assert_array_equal(load_image(tmp_path / "x2" / "p1.png"), load_image(tmp_path / "alone.png"))
    assert load_image(tmp_path / "x2" / "p1.png").shape == (64, 64, 3)
