#!/usr/bin/env bash
# Way (issue 17), the rendered review by hand, as a person would do it with
# the git CLI and helm: clone the GitOps repository (the stage's values and
# the release's record), sparse-checkout the chart of the source repository
# at the stage's current commit and at the release's, `helm template` each
# with the ApplicationSet's value files, and diff. It pushes nothing. HELM
# names the helm binary.
source "$(dirname "$0")/common.sh"
: "${HELM:?}" "${SOURCE_URL:?}"
git clone --quiet --depth 1 --branch "$BRANCH" "$GITOPS_URL" gitops
git -C gitops fetch --quiet --depth 1 origin "$FREIGHT"
stage=gitops/apps/codeai/deployments/$STAGE
old=$(sed -n 's/^targetRevision: *//p' "$stage/deployment.yaml" | tr -d "'\"")
new=$(git -C gitops show "$FREIGHT:$BUILDS/current.yaml" | sed -n 's/^gitCommit: *//p')
image=$(git -C gitops show "$FREIGHT:$BUILDS/current.yaml" | sed -n 's/^  ref: *//p')
envType=$(sed -n 's/^envType: *//p' "$stage/deployment.yaml")

git clone --quiet --filter=blob:none --no-checkout --depth 1 "$SOURCE_URL" src
git -C src sparse-checkout set k8s/helm
git -C src fetch --quiet --depth 1 --filter=blob:none origin "$old" "$new"
render() { # commit values-file out
  git -C src -c advice.detachedHead=false checkout --quiet "$1"
  "$HELM" template "$STAGE" src/k8s/helm --namespace "$STAGE" \
    -f "gitops/apps/codeai/envTypes/$envType.values.yaml" -f "$2" >"$3"
}
render "$old" "$stage/values.yaml" old.yaml
sed "s|^image: .*|image: $image|" "$stage/values.yaml" >new-values.yaml
render "$new" new-values.yaml new.yaml
diff -u old.yaml new.yaml >review.diff || true
test -s review.diff
