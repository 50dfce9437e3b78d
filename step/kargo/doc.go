// Package kargo defines the Kargo wire types a promotion step sees: the
// Freight collection, step statuses, and the StepPlugin request and response.
package kargo
