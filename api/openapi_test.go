package api_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog/api"
)

var update = flag.Bool("update", false, "rewrite golden files")

// mustDocument returns the OpenAPI document, decoded.
func mustDocument(t *testing.T) map[string]any {
	t.Helper()
	b, err := api.OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestOpenAPIGolden(t *testing.T) {
	b, err := api.OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	golden := filepath.Join("testdata", "openapi.golden.json")
	if *update {
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestOpenAPIGolden -update)", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Fatalf("the OpenAPI document changed; review it and run go test -run TestOpenAPIGolden -update")
	}
	again, _ := api.OpenAPIDocument()
	if !bytes.Equal(b, again) {
		t.Fatal("the OpenAPI document is not deterministic")
	}
}

// TestOpenAPIRoutes checks that every route registered in the mux is in the
// document and that the document describes no route the mux lacks.
func TestOpenAPIRoutes(t *testing.T) {
	srv := mustServer(t)
	var registered []string
	for _, pattern := range srv.api.Routes() {
		registered = append(registered, pattern)
	}
	var documented []string
	for path, item := range mustDocument(t)["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(documented)
	if !slices.Equal(registered, documented) {
		t.Fatalf("routes and document differ:\nregistered %q\ndocumented %q", registered, documented)
	}
	for _, want := range []string{
		"GET /v1/audit-logs", "GET /v1/audit-logs/{id}", "GET /v1/projects/{project_id}/audit-logs",
		"POST /v1/audit-logs", "PUT /v1/projects/{project_id}", "GET /v1/actions",
		"GET /openapi.json", "GET /healthz", "GET /readyz", "GET /metrics",
	} {
		if !slices.Contains(registered, want) {
			t.Errorf("route %s is missing", want)
		}
	}
}

// oas30SchemaKeys are the keywords an OpenAPI 3.0 Schema Object may hold
// (extensions aside); 3.1-only ones (const, examples, type arrays, ...) are errors.
var oas30SchemaKeys = map[string]bool{
	"title": true, "multipleOf": true, "maximum": true, "exclusiveMaximum": true, "minimum": true,
	"exclusiveMinimum": true, "maxLength": true, "minLength": true, "pattern": true, "maxItems": true,
	"minItems": true, "uniqueItems": true, "maxProperties": true, "minProperties": true, "required": true,
	"enum": true, "type": true, "allOf": true, "oneOf": true, "anyOf": true, "not": true, "items": true,
	"properties": true, "additionalProperties": true, "description": true, "format": true, "default": true,
	"nullable": true, "discriminator": true, "readOnly": true, "writeOnly": true, "xml": true,
	"externalDocs": true, "example": true, "deprecated": true, "$ref": true,
}

// publicV1 are the /v1 routes served without a token: signed checkpoints,
// the verifier key and consistency proofs are meant to be gossiped.
var publicV1 = map[string]bool{"/v1/checkpoint": true, "/v1/checkpoint/key": true, "/v1/checkpoint/consistency": true}

// TestOpenAPIStructure walks the document as OpenAPI 3.0.3: every $ref
// resolves, schemas use 3.0 keywords only, every operation has an id and
// responses with descriptions, every error response uses the error schema,
// path parameters match the path, and security names a declared scheme.
func TestOpenAPIStructure(t *testing.T) {
	doc := mustDocument(t)
	if doc["openapi"] != "3.0.3" {
		t.Fatalf("openapi = %v, want 3.0.3", doc["openapi"])
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == "" || info["version"] == "" {
		t.Fatal("info needs a title and a version")
	}
	resolve := func(ref string) (any, error) {
		if !strings.HasPrefix(ref, "#/") {
			return nil, fmt.Errorf("non-local $ref %q", ref)
		}
		var cur any = doc
		for _, part := range strings.Split(ref[2:], "/") {
			part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
			m, ok := cur.(map[string]any)
			if !ok || m[part] == nil {
				return nil, fmt.Errorf("$ref %q does not resolve", ref)
			}
			cur = m[part]
		}
		return cur, nil
	}

	var walkSchema func(where string, s any)
	walkSchema = func(where string, s any) {
		m, ok := s.(map[string]any)
		if !ok {
			t.Errorf("%s: schema is %T, not an object", where, s)
			return
		}
		if ref, ok := m["$ref"].(string); ok {
			if _, err := resolve(ref); err != nil {
				t.Errorf("%s: %v", where, err)
			}
			if len(m) != 1 {
				t.Errorf("%s: $ref with siblings", where)
			}
			return
		}
		for k, v := range m {
			if !oas30SchemaKeys[k] && !strings.HasPrefix(k, "x-") {
				t.Errorf("%s: keyword %q is not OpenAPI 3.0", where, k)
			}
			switch k {
			case "type":
				if typ, ok := v.(string); !ok || !slices.Contains([]string{"string", "number", "integer", "boolean", "array", "object"}, typ) {
					t.Errorf("%s: type %v", where, v)
				}
			case "exclusiveMinimum", "exclusiveMaximum", "nullable", "readOnly", "writeOnly", "uniqueItems", "deprecated":
				if _, ok := v.(bool); !ok {
					t.Errorf("%s: %s must be a boolean in 3.0", where, k)
				}
			case "pattern":
				if _, err := regexp.Compile(v.(string)); err != nil {
					t.Errorf("%s: pattern: %v", where, err)
				}
			case "properties":
				for name, p := range v.(map[string]any) {
					walkSchema(where+".properties."+name, p)
				}
			case "items", "not":
				walkSchema(where+"."+k, v)
			case "additionalProperties":
				if _, ok := v.(bool); !ok {
					walkSchema(where+".additionalProperties", v)
				}
			case "allOf", "oneOf", "anyOf":
				for i, sub := range v.([]any) {
					walkSchema(fmt.Sprintf("%s.%s[%d]", where, k, i), sub)
				}
			case "required":
				props, _ := m["properties"].(map[string]any)
				for _, name := range v.([]any) {
					if _, ok := props[name.(string)]; !ok {
						t.Errorf("%s: required %q is not a property", where, name)
					}
				}
			}
		}
		if m["type"] == "array" && m["items"] == nil {
			t.Errorf("%s: array without items", where)
		}
	}

	components := doc["components"].(map[string]any)
	for name, s := range components["schemas"].(map[string]any) {
		walkSchema("components.schemas."+name, s)
	}
	schemes := components["securitySchemes"].(map[string]any)

	pathParam := regexp.MustCompile(`\{([^}]+)\}`)
	opIDs := map[string]bool{}
	for path, item := range doc["paths"].(map[string]any) {
		if !strings.HasPrefix(path, "/") {
			t.Errorf("path %q does not start with /", path)
		}
		for method, o := range item.(map[string]any) {
			where := strings.ToUpper(method) + " " + path
			if !slices.Contains([]string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}, method) {
				t.Errorf("%s: unexpected key", where)
				continue
			}
			op := o.(map[string]any)
			id, _ := op["operationId"].(string)
			if id == "" || opIDs[id] {
				t.Errorf("%s: operationId %q missing or duplicated", where, id)
			}
			opIDs[id] = true

			declared := map[string]bool{}
			params, _ := op["parameters"].([]any)
			seen := map[string]bool{}
			for _, p := range params {
				pm := p.(map[string]any)
				name, in := pm["name"].(string), pm["in"].(string)
				if name == "" || !slices.Contains([]string{"query", "path", "header", "cookie"}, in) || seen[in+name] {
					t.Errorf("%s: parameter %q in %q", where, name, in)
				}
				seen[in+name] = true
				if pm["schema"] == nil {
					t.Errorf("%s: parameter %s has no schema", where, name)
				} else {
					walkSchema(where+" param "+name, pm["schema"])
				}
				if in == "path" {
					declared[name] = true
					if pm["required"] != true {
						t.Errorf("%s: path parameter %s must be required", where, name)
					}
				}
			}
			for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
				if !declared[m[1]] {
					t.Errorf("%s: path parameter %s is not declared", where, m[1])
				}
				delete(declared, m[1])
			}
			if len(declared) > 0 {
				t.Errorf("%s: path parameters %v are not in the path", where, declared)
			}

			if rb, ok := op["requestBody"].(map[string]any); ok {
				for ct, mt := range rb["content"].(map[string]any) {
					walkSchema(where+" body "+ct, mt.(map[string]any)["schema"])
				}
			}
			responses, _ := op["responses"].(map[string]any)
			if len(responses) == 0 {
				t.Errorf("%s: no responses", where)
			}
			hasSuccess := false
			for code, r := range responses {
				rm := r.(map[string]any)
				if d, _ := rm["description"].(string); d == "" {
					t.Errorf("%s %s: response without description", where, code)
				}
				content, _ := rm["content"].(map[string]any)
				if len(content) == 0 && code != "204" {
					t.Errorf("%s %s: response without content", where, code)
				}
				for ct, mt := range content {
					walkSchema(where+" "+code+" "+ct, mt.(map[string]any)["schema"])
				}
				if strings.HasPrefix(code, "2") {
					hasSuccess = true
				} else if code == "default" || code[0] == '4' || code[0] == '5' {
					schema, _ := content["application/json"].(map[string]any)["schema"].(map[string]any)
					if schema["$ref"] != "#/components/schemas/ErrorResponse" {
						t.Errorf("%s %s: error response without the error schema", where, code)
					}
				} else {
					t.Errorf("%s: unexpected response code %q", where, code)
				}
				headers, _ := rm["headers"].(map[string]any)
				for name, h := range headers {
					walkSchema(where+" "+code+" header "+name, h.(map[string]any)["schema"])
				}
			}
			if !hasSuccess {
				t.Errorf("%s: no success response", where)
			}
			sec, _ := op["security"].([]any)
			for _, req := range sec {
				for name := range req.(map[string]any) {
					if schemes[name] == nil {
						t.Errorf("%s: security scheme %q is not declared", where, name)
					}
				}
			}
			if strings.HasPrefix(path, "/v1/") && !publicV1[path] {
				if len(sec) == 0 {
					t.Errorf("%s: no security requirement", where)
				}
				for _, code := range []string{"401", "403", "500"} {
					if responses[code] == nil {
						t.Errorf("%s: response %s is not documented", where, code)
					}
				}
			}
		}
	}
}

// TestOpenAPIValidator runs the independent openapi-spec-validator (Python)
// on the document when it is installed.
func TestOpenAPIValidator(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil || exec.Command(python, "-c", "import openapi_spec_validator").Run() != nil {
		skipUnlessCI(t, "python3 with openapi-spec-validator is not installed")
	}
	b, err := api.OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "-c", `
import json, sys
from openapi_spec_validator.validation.validators import OpenAPIV30SpecValidator
errors = list(OpenAPIV30SpecValidator(json.load(open(sys.argv[1]))).iter_errors())
for e in errors: print(e.message[:500])
sys.exit(1 if errors else 0)
`, path).CombinedOutput()
	if err != nil {
		t.Fatalf("openapi-spec-validator: %v\n%s", err, out)
	}
}
