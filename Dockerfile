# Flyer Studio: the studio on 0.0.0.0:7860, configured from the environment (see env.example).
# Build:  docker build -t flyer-studio .
# Run:    docker run --rm -p 7860:7860 --env-file .env flyer-studio
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GRADIO_ANALYTICS_ENABLED=False \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860

# libfribidi0: right-to-left text shaping (Pillow's raqm loads it at run time).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libfribidi0 \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 --shell /usr/sbin/nologin studio

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY pipeline ./pipeline
COPY studio ./studio
# The fonts ship inside the package (pipeline/render/fonts, with their licences).
RUN pip install --no-cache-dir ".[mcp,redis]" && rm -rf /root/.cache

USER studio
WORKDIR /home/studio
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
    CMD ["python", "-m", "studio.healthcheck"]
CMD ["flyer-studio", "serve"]
