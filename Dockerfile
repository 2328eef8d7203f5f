# The function image: the static binary and an /etc/passwd that knows the
# non-root user `nobody` (kpt and kustomize run functions as nobody; podman
# refuses to start without the entry). No shell, no base image to pull:
# build the binary first (`make image` does both).
#
#   make build && podman build -t inject-mesher .
FROM scratch
COPY build/passwd /etc/passwd
COPY bin/inject-mesher /usr/local/bin/inject-mesher
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/inject-mesher"]
