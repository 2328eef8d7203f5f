// The programs hack/build-argocd.sh builds beside Argo CD, in the same
// throwaway module (under .cache/argocd), which requires Argo CD and
// miniredis and copies Argo CD's replace directives. This go.mod only keeps
// them out of the inject-mesher module (its go build ./... and go vet ./...).
module inject-mesher/hack/argocd

go 1.26
