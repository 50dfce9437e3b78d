// Package customstep translates a step's result into the terms of a Kargo
// custom step: a $KARGO_OUTPUT file of key=value lines and an exit code.
package customstep
