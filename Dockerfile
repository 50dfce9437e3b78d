# argo-refs container image: static binaries on an empty base, run as
# 65532:65532, that work with a read-only root file system: /argo-refs, and
# three helpers it runs only when they are needed: /argo-refs-render, which
# links Helm and Kustomize (a rendered review), /argo-refs-cloud-auth,
# which links the clouds' SDKs (ambient registry credentials), and
# /argo-refs-trust, which links sigstore-go (an image policy).
#
# From source (any BuildKit or buildah):
#   docker build --build-arg VERSION=v0.1.0 --build-arg REVISION=$(git rev-parse HEAD) -t argo-refs .
# From a binary built outside (CI without network pulls; see hack/build-image.sh):
#   buildah bud --isolation chroot --build-arg BINARY_FROM=prebuilt -f Dockerfile <staged-context>
# where the staged context holds argo-refs, argo-refs-render, argo-refs-cloud-auth, argo-refs-trust, ca-certificates.crt, passwd, group
# and rw/{workspace,tmp}.

ARG GO_VERSION=1.26
# BINARY_FROM names the stage the final image takes its files from: "build"
# compiles from source, "prebuilt" takes them from the build context.
ARG BINARY_FROM=build

FROM golang:${GO_VERSION} AS build
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /stage/argo-refs ./cmd/argo-refs \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /stage/argo-refs-render ./cmd/argo-refs-render \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /stage/argo-refs-cloud-auth ./cmd/argo-refs-cloud-auth \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /stage/argo-refs-trust ./cmd/argo-refs-trust
# The same files hack/build-image.sh stages for the prebuilt path.
RUN cp /etc/ssl/certs/ca-certificates.crt /stage/ca-certificates.crt \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin\n' > /stage/passwd \
 && printf 'root:x:0:\nnonroot:x:65532:\n' > /stage/group \
 && mkdir -p /stage/rw/workspace /stage/rw/tmp \
 && chmod 0755 /stage/rw/workspace \
 && chmod 1777 /stage/rw/tmp

FROM scratch AS prebuilt
COPY argo-refs argo-refs-render argo-refs-cloud-auth argo-refs-trust ca-certificates.crt passwd group /stage/
COPY rw/ /stage/rw/

FROM ${BINARY_FROM} AS files

FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
ARG LICENSES=NOASSERTION
LABEL org.opencontainers.image.source="https://github.com/argo-refs/argo-refs" \
      org.opencontainers.image.title="argo-refs" \
      org.opencontainers.image.description="Verified Kargo promotion step: pins a release to one exact source commit and image digest (kargo-extended StepPlugin sidecar, Kargo custom step, or by hand)" \
      org.opencontainers.image.licenses="${LICENSES}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=files /stage/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=files /stage/passwd /etc/passwd
COPY --from=files /stage/group /etc/group
# The only writable places; everything else can be mounted read-only.
COPY --from=files --chown=65532:65532 /stage/rw/ /
COPY --from=files /stage/argo-refs /argo-refs
COPY --from=files /stage/argo-refs-render /argo-refs-render
COPY --from=files /stage/argo-refs-cloud-auth /argo-refs-cloud-auth
COPY --from=files /stage/argo-refs-trust /argo-refs-trust
VOLUME ["/workspace", "/tmp"]
ENV HOME=/tmp
USER 65532:65532
WORKDIR /workspace
EXPOSE 9765
ENTRYPOINT ["/argo-refs"]
