# One image for the three services and the web page; docker-compose.yml picks the module to run.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    SEMCOM_HOST=0.0.0.0

WORKDIR /app
# dependencies first, so code changes don't reinstall torch
COPY pyproject.toml README.md ./
RUN mkdir -p shared transmitter receiver channel semcom \
    && touch shared/__init__.py transmitter/__init__.py receiver/__init__.py channel/__init__.py semcom/__init__.py \
    && pip install . \
    && pip uninstall -y semcom
COPY shared shared
COPY transmitter transmitter
COPY receiver receiver
COPY channel channel
COPY semcom semcom
COPY protos protos
RUN pip install --no-deps -e .

# weights are mounted read-only at /weights (see docker-compose.yml)
RUN useradd --create-home --uid 10001 semcom
USER semcom
EXPOSE 50051 50052 50053 8080
CMD ["python", "-m", "receiver"]
