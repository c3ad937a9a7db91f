# vault-ci as a container image: the static musl binary and CA roots, nothing else.
# The build context is the dist/ tree of scripts/dist.sh, so a build takes seconds
# and needs no compiler:
#   scripts/dist.sh x86_64-unknown-linux-musl && scripts/dist.sh aarch64-unknown-linux-musl
#   docker buildx build --platform linux/amd64,linux/arm64 .
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
