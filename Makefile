# The two set-up commands: `make run` and `make test` (see README.md).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test install migrate demo lint format check backup restore clean

run: install migrate demo
	@echo "Портал: http://127.0.0.1:8000  (остановить: Ctrl+C)"
	scripts/run-portal

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

install: $(STAMP)

$(PY):
	@python=$$(PYTHON="$(PYTHON)" scripts/find-python) && echo "Python: $$python" && "$$python" -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

demo: install
	$(PY) manage.py seed_demo

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: install
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

# Backups need PostgreSQL (DATABASE_URL): `make backup`, `make restore FILE=var/backups/atlanset-….dump`
# (FORCE=1 to drop what a non-empty database holds first). README, "Production with Docker Compose".
backup: install
	$(PY) manage.py backup

restore: install
	@test -n "$(FILE)" || { echo "make restore FILE=path/to/atlanset-YYYYMMDD-HHMMSS.dump [FORCE=1]"; exit 2; }
	$(PY) manage.py restore_backup "$(FILE)" $(if $(FORCE),--force)

clean:
	rm -rf $(VENV) var db.sqlite3
