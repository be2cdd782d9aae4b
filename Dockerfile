# Grafo node image, FROM scratch: nothing to pull. The binary is built
# outside Docker by `make static` (CGO_ENABLED=0, fully static), and
# `make docker-image` (or `make cluster`) prepares the build context:
#   bin/grafo-static          the binary
#   bin/docker-rootfs/data/   an empty directory that becomes /data,
#                             owned by the non-root user below
FROM scratch

COPY bin/grafo-static /grafo
COPY --chown=10001:10001 bin/docker-rootfs/data/ /data/

# Every `grafo serve` flag reads GRAFO_<FLAG>; these are the container
# defaults (listen on all interfaces, data in the volume).
ENV GRAFO_DATA=/data \
    GRAFO_HTTP=0.0.0.0:7070 \
    GRAFO_CLUSTER=0.0.0.0:7071

# scratch has no /etc/passwd: a numeric user is enough.
USER 10001:10001
VOLUME /data
EXPOSE 7070 7071

HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/grafo", "health", "--server", "http://127.0.0.1:7070"]

ENTRYPOINT ["/grafo"]
CMD ["serve"]
