package netpolicy

// The one reader of credentials from the environment, for every command and
// runtime: the step, publish and the images command read the same variables
// with the same rules.

import (
	"fmt"
	"strconv"
)

// The environment variables credentials are read from.
const (
	EnvGitUsername = "GIT_USERNAME"
	EnvGitPassword = "GIT_PASSWORD"
	EnvGitHubToken = "GITHUB_TOKEN"

	EnvRegistryUsername = "ARGO_REFS_REGISTRY_USERNAME"
	EnvRegistryPassword = "ARGO_REFS_REGISTRY_PASSWORD"
	// EnvRegistryHost names the only registry host the environment's
	// registry credentials are sent to.
	EnvRegistryHost = "ARGO_REFS_REGISTRY_HOST"
	// EnvRegistryAmbient, when true, takes the registry credentials from
	// the cloud identity the process runs with, for the host in
	// ARGO_REFS_REGISTRY_HOST only.
	EnvRegistryAmbient = "ARGO_REFS_REGISTRY_AMBIENT"
)

// GitHubTokenUser is the user name sent with a bare token, as GitHub
// expects for installation and personal access tokens.
const GitHubTokenUser = "x-access-token"

// GitFromEnv reads Git credentials: GIT_USERNAME and GIT_PASSWORD, else
// GITHUB_TOKEN (as user x-access-token). A password without a user name is
// a token. A user name without a password is an error, never a silent
// fallback to another credential. It returns nil when none is set.
func GitFromEnv(getenv func(string) string) (*UserPass, error) {
	user, pass := getenv(EnvGitUsername), getenv(EnvGitPassword)
	switch {
	case pass != "":
		if user == "" {
			user = GitHubTokenUser
		}
		return &UserPass{Username: user, Password: pass}, nil
	case user != "":
		return nil, fmt.Errorf("environment has %s but no %s", EnvGitUsername, EnvGitPassword)
	}
	if tok := getenv(EnvGitHubToken); tok != "" {
		return &UserPass{Username: GitHubTokenUser, Password: tok}, nil
	}
	return nil, nil
}

// RegistryFromEnv reads registry credentials: both of
// ARGO_REFS_REGISTRY_USERNAME and _PASSWORD or neither, or
// ARGO_REFS_REGISTRY_AMBIENT=true instead of both, for the host in
// ARGO_REFS_REGISTRY_HOST (empty when unset: the caller must scope them
// before use). It returns nil when none is set.
func RegistryFromEnv(getenv func(string) string) (*RegistryCredentials, error) {
	user, pass := getenv(EnvRegistryUsername), getenv(EnvRegistryPassword)
	if a := getenv(EnvRegistryAmbient); a != "" {
		ambient, err := strconv.ParseBool(a)
		switch {
		case err != nil:
			return nil, fmt.Errorf("environment has %s=%q; want true or false", EnvRegistryAmbient, a)
		case ambient && (user != "" || pass != ""):
			return nil, fmt.Errorf("environment has %s=true and %s or %s; give one kind of credentials", EnvRegistryAmbient, EnvRegistryUsername, EnvRegistryPassword)
		case ambient:
			return &RegistryCredentials{Ambient: true, Registry: getenv(EnvRegistryHost)}, nil
		}
	}
	switch {
	case user == "" && pass == "":
		return nil, nil
	case user == "":
		return nil, fmt.Errorf("environment has %s but no %s", EnvRegistryPassword, EnvRegistryUsername)
	case pass == "":
		return nil, fmt.Errorf("environment has %s but no %s", EnvRegistryUsername, EnvRegistryPassword)
	}
	return &RegistryCredentials{UserPass: UserPass{Username: user, Password: pass}, Registry: getenv(EnvRegistryHost)}, nil
}
