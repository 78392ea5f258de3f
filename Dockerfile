# One image for the three services and the seed job: ``docker run IMAGE services.dispatch serve``,
# ``docker run IMAGE deploy.seed.registry``. docker-compose.yml at the repo root runs the whole system.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The code: the shared kernel, the services (with their migrations and rules.yaml), and the seed job.
COPY shared/ shared/
COPY services/ services/
COPY deploy/__init__.py deploy/
COPY deploy/seed/ deploy/seed/

# Install the project itself (its dependencies are already there). The processes run from the source tree in
# /app all the same (PYTHONPATH, and the working directory of ``python -m``): the distribution holds shared and
# services only, and the seed job needs deploy/ too.
RUN pip install --no-deps . \
    && rm -rf build ./*.egg-info \
    && groupadd --system --gid 10001 heat \
    && useradd --system --uid 10001 --gid heat --home-dir /app --no-create-home --shell /usr/sbin/nologin heat

USER heat

# intake 8001, dispatch 8002, followup 8003; each serves /healthz, /readyz and /metrics. The image has no
# curl: health checks use ``python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:PORT/readyz')"``.
EXPOSE 8001 8002 8003

ENTRYPOINT ["python", "-m"]
CMD ["services.intake", "serve"]
