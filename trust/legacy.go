package trust

// Cosign's signature tag (sha256-<hex>.sig): each layer is a signed
// simple-signing payload whose signature, certificate and transparency log
// entry are in the layer's annotations. A layer becomes a Sigstore bundle
// v0.1 (message signature over the payload, the entry with its signed
// entry timestamp), which sigstore-go verifies like any other.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/argo-refs/argo-refs/trust/spec"
)

// simpleSigning is the payload cosign signs for an image.
type simpleSigning struct {
	Critical struct {
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
}

// cosignSignatureType is simpleSigning's critical.type.
const cosignSignatureType = "cosign container image signature"

// signedDigest returns the digest a simple-signing payload names.
func signedDigest(payload []byte) (string, error) {
	var s simpleSigning
	if err := json.Unmarshal(payload, &s); err != nil {
		return "", fmt.Errorf("the payload is not a simple-signing document: %w", err)
	}
	if s.Critical.Type != cosignSignatureType {
		return "", fmt.Errorf("the payload's critical.type is %q, want %q", s.Critical.Type, cosignSignatureType)
	}
	return s.Critical.Image.DockerManifestDigest, nil
}

// rekorBundle is the dev.sigstore.cosign/bundle annotation.
type rekorBundle struct {
	SignedEntryTimestamp []byte `json:"SignedEntryTimestamp"`
	Payload              struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"`
	} `json:"Payload"`
}

// rfc3161 is the dev.sigstore.cosign/rfc3161timestamp annotation.
type rfc3161 struct {
	SignedRFC3161Timestamp []byte `json:"SignedRFC3161Timestamp"`
}

// legacyBundle turns a signature layer into a bundle over its payload.
func legacyBundle(l spec.LegacySignature) (*bundle.Bundle, error) {
	sig, err := base64.StdEncoding.DecodeString(l.Signature)
	if err != nil || len(sig) == 0 {
		return nil, errors.New("the layer's dev.cosignproject.cosign/signature is not base64")
	}
	vm := &protobundle.VerificationMaterial{}
	if l.Certificate != "" {
		block, _ := pem.Decode([]byte(l.Certificate))
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, errors.New("the layer's dev.sigstore.cosign/certificate is not a PEM certificate")
		}
		vm.Content = &protobundle.VerificationMaterial_X509CertificateChain{
			X509CertificateChain: &protocommon.X509CertificateChain{
				Certificates: []*protocommon.X509Certificate{{RawBytes: block.Bytes}},
			},
		}
	} else {
		vm.Content = &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{}}
	}
	if l.RekorBundle != "" {
		entry, err := legacyEntry(l.RekorBundle)
		if err != nil {
			return nil, err
		}
		vm.TlogEntries = []*protorekor.TransparencyLogEntry{entry}
	}
	if l.RFC3161Timestamp != "" {
		var ts rfc3161
		if err := json.Unmarshal([]byte(l.RFC3161Timestamp), &ts); err != nil {
			return nil, fmt.Errorf("reading the layer's dev.sigstore.cosign/rfc3161timestamp: %w", err)
		}
		vm.TimestampVerificationData = &protobundle.TimestampVerificationData{
			Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: ts.SignedRFC3161Timestamp}},
		}
	}
	sum := sha256.Sum256(l.Payload)
	pb := &protobundle.Bundle{
		MediaType:            "application/vnd.dev.sigstore.bundle+json;version=0.1",
		VerificationMaterial: vm,
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: sum[:]},
			Signature:     sig,
		}},
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		return nil, fmt.Errorf("the layer's annotations do not make a valid bundle: %w", err)
	}
	return b, nil
}

// legacyEntry reads the transparency log entry of a rekor bundle
// annotation.
func legacyEntry(annotation string) (*protorekor.TransparencyLogEntry, error) {
	var rb rekorBundle
	if err := json.Unmarshal([]byte(annotation), &rb); err != nil {
		return nil, fmt.Errorf("reading the layer's dev.sigstore.cosign/bundle: %w", err)
	}
	body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
	if err != nil {
		return nil, errors.New("the layer's dev.sigstore.cosign/bundle: the entry body is not base64")
	}
	var kind struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(body, &kind); err != nil || kind.Kind == "" || kind.APIVersion == "" {
		return nil, errors.New("the layer's dev.sigstore.cosign/bundle: the entry body names no kind and apiVersion")
	}
	logID, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil {
		return nil, errors.New("the layer's dev.sigstore.cosign/bundle: the log ID is not hex")
	}
	return &protorekor.TransparencyLogEntry{
		LogIndex:          rb.Payload.LogIndex,
		LogId:             &protocommon.LogId{KeyId: logID},
		KindVersion:       &protorekor.KindVersion{Kind: kind.Kind, Version: kind.APIVersion},
		IntegratedTime:    rb.Payload.IntegratedTime,
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: rb.SignedEntryTimestamp},
		CanonicalizedBody: body,
	}, nil
}
