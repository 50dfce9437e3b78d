# Sourced by every way. Inputs (environment, set by bench/runner):
#   GITOPS_URL  the GitOps repo, e.g. http://127.0.0.1:18080/L.git
#   FREIGHT     the Freight commit (the commit whose current.yaml is the release)
#   WORK        an empty scratch directory, removed by the runner afterwards
#   STAGE       the stage to promote (default staging)
#   BRANCH      the branch to push (default main)
#   BUILDS      the build-lock directory (default warehouses/codeai/builds)
set -euo pipefail
: "${GITOPS_URL:?}" "${FREIGHT:?}" "${WORK:?}"
STAGE=${STAGE:-staging}
BRANCH=${BRANCH:-main}
BUILDS=${BUILDS:-warehouses/codeai/builds}
# Isolate from the host's git configuration.
export HOME=$WORK GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
cd "$WORK"
