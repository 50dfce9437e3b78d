// Package netpolicy is where argo-refs decides what may cross the network
// and what may be printed: which hosts plain http may reach (loopback and
// the listed ones), whose TLS certificates are not verified (only the
// listed ones), which origin credentials may go to (the one they were
// configured for, never across a redirect), the one credential type
// (UserPass, which never prints its password), the one reader of
// credentials from the environment, and the one redaction function for
// URLs and secrets in text about to be shown. Every package that dials,
// authenticates or prints a URL takes its rules from here.
package netpolicy
