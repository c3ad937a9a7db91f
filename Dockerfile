# vault-ci as container images: the static musl binary and CA roots, and nothing else
# (the default target), or with BusyBox's sh and tools for CI jobs that run scripts in their
# image (target `shell`, tagged <version>-shell). The build context is the dist/ tree of
# scripts/dist.sh, so a build takes seconds and needs no compiler:
#   scripts/dist.sh x86_64-unknown-linux-musl && scripts/dist.sh aarch64-unknown-linux-musl
#   docker buildx build --platform linux/amd64,linux/arm64 .
#   docker buildx build --platform linux/amd64,linux/arm64 --target shell .

# For GitLab and Bitbucket jobs: `sh`, `wget`, `sha256sum` and the rest from Debian's
# busybox-static (GPL-2.0; its source is Debian's busybox package). Root, as their checkouts
# expect; no entrypoint, as their runners start a shell in it.
FROM scratch AS shell
ARG TARGETARCH
ARG VERSION=dev
LABEL org.opencontainers.image.title="vault-ci (shell)" \
      org.opencontainers.image.description="vault-ci with BusyBox's sh and tools, as a CI job image" \
      org.opencontainers.image.url="https://github.com/vault-ci/vault-ci" \
      org.opencontainers.image.source="https://github.com/vault-ci/vault-ci" \
      org.opencontainers.image.documentation="https://github.com/vault-ci/vault-ci#container-image" \
      org.opencontainers.image.licenses="(MIT OR Apache-2.0) AND GPL-2.0-only" \
      org.opencontainers.image.version="${VERSION}"
COPY dist/linux-${TARGETARCH}/busybox/ /
COPY dist/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY dist/linux-${TARGETARCH}/vault-ci /usr/local/bin/vault-ci
ENV PATH=/usr/local/bin:/bin HOME=/root
CMD ["sh"]

FROM scratch
ARG TARGETARCH
ARG VERSION=dev
LABEL org.opencontainers.image.title="vault-ci" \
      org.opencontainers.image.description="Short-lived, scoped AWS credentials for CI jobs: OIDC or deploy-user keys through STS role chains" \
      org.opencontainers.image.url="https://github.com/vault-ci/vault-ci" \
      org.opencontainers.image.source="https://github.com/vault-ci/vault-ci" \
      org.opencontainers.image.documentation="https://github.com/vault-ci/vault-ci#container-image" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY dist/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY dist/linux-${TARGETARCH}/vault-ci /usr/local/bin/vault-ci
# distroless's "nonroot": no shell, no passwd file, nothing to become root with.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/vault-ci"]
CMD ["--help"]
