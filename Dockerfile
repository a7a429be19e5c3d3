# Flunq on its embedded default (SQLite in /data, in-process bus, API on :8080).
# For a split deployment, run the same image with --roles and Redis URLs.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 FLUNQ_DATA_DIR=/data FLUNQ_HOST=0.0.0.0
WORKDIR /app
COPY pyproject.toml README.md ./
COPY flunq ./flunq
RUN pip install --no-cache-dir . && useradd --system --create-home flunq && mkdir -p /data && chown flunq /data
USER flunq
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["flunq"]
CMD ["serve"]
