# `make demo` and `make test` do all the set-up: a virtual environment in .venv with the CPU build of torch
# installed first (a bare `torch` requirement would pull a multi-GB CUDA build), then invscat itself.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
TORCH  ?= torch==2.13.0
# Where torch comes from: empty uses pip's default (a local CPU wheel here; on PyPI, Linux wheels are CUDA builds
# of several GB). For PyTorch's CPU-only build on any Python: make TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=

.PHONY: demo test test-slow bench docs estimators clean

$(BIN)/invscat: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -e ".[test,bench,docs]"
	touch $@

demo: $(BIN)/invscat
	mkdir -p results
	$(BIN)/invscat superres data/camera.png --simulate --factor 4 --method tv -o results/camera_x4_tv.png \
		--metrics-json results/camera_x4_tv.json --figure results/camera_x4_tv_figure.png

test: $(BIN)/invscat
	$(BIN)/python -m pytest -q

# Checks of published claims that take minutes (the straight-edge recovery: about 3 min on 2 cores).
test-slow: $(BIN)/invscat
	$(BIN)/python -m pytest -q -m slow

# The documentation site in docs/_build/html (API from the docstrings, the CLI reference from the Typer app, the
# examples gallery); GALLERY=1 also runs the examples (minutes).
docs: $(BIN)/invscat
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

bench: $(BIN)/invscat
	$(BIN)/python benchmarks/scattering_speed.py
	$(BIN)/python benchmarks/operators_speed.py
	$(BIN)/python benchmarks/quality.py

# Refit the scattering estimators shipped in invscat/estimators/pretrained (hours on 2 cores: each CT restoration
# U-Net reconstructs about 2,400 training images and trains for about an hour).
PRETRAINED = invscat/estimators/pretrained
estimators: $(BIN)/invscat
	$(BIN)/invscat fit superres --factor 2 -o $(PRETRAINED)/superres_x2.pt
	$(BIN)/invscat fit superres --factor 4 -o $(PRETRAINED)/superres_x4.pt
	$(BIN)/invscat fit tomo --views 30 -o $(PRETRAINED)/tomo_parallel_30views_180deg_128px_183det.pt
	$(BIN)/invscat fit tomo --views 90 --arc 120 -o $(PRETRAINED)/tomo_parallel_90views_120deg_128px_183det.pt
	$(BIN)/invscat fit deblur --sigma 2 -o $(PRETRAINED)/deblur_sigma2.pt
	$(BIN)/invscat fit tomo --views 30 --family --kind convolutional --count 1200 --synthetic 720 \
		--scales 192 --scales 256 --scales 384 --scales 640 --larger 256 --epochs 30 \
		-o $(PRETRAINED)/tomo_parallel_any_cnn.pt
	$(BIN)/python benchmarks/tune_ensemble.py --store
	$(BIN)/invscat fit tomo --views 90 --arc 120 --kind convolutional --init $(PRETRAINED)/tomo_parallel_any_cnn.pt \
		--learning-rate 3e-4 --epochs 15 --count 360 --synthetic 216 --scales 192 --scales 256 --scales 384 --scales 640 \
		--lam 1e-4 --tv-weight 5e-4 -o $(PRETRAINED)/tomo_parallel_90views_120deg_128px_183det_cnn.pt
	$(BIN)/invscat fit tomo --views 30 --kind restoration --levels 4 --width 24 --count 1200 --synthetic 720 \
		--scales 192 --scales 256 --scales 384 --scales 640 --larger 256 --epochs 24 --lam 5e-3 \
		-o $(PRETRAINED)/tomo_parallel_30views_180deg_128px_183det_restoration.pt
	$(BIN)/invscat fit tomo --views 30 --kind restoration --levels 4 --width 24 --count 1200 --synthetic 720 \
		--scales 192 --scales 256 --scales 384 --scales 640 --larger 256 --epochs 24 --lam 5e-3 --family \
		-o $(PRETRAINED)/tomo_parallel_any_restoration.pt
	$(BIN)/invscat fit superres --factor 4 --kind restoration --count 800 --synthetic 400 --scales 192 --scales 256 \
		--scales 384 --scales 640 --epochs 20 --lam 1e-2 -o $(PRETRAINED)/superres_x4_restoration.pt

clean:
	rm -rf $(VENV) results docs/_build docs/generated docs/auto_examples docs/cli.rst
