//go:build tools

// Package tools pins the helm CLI that kgql's chart tests render with.
package tools

import (
	_ "helm.sh/helm/v4/cmd/helm"
)
