package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/switchboard/switchboard/internal/model"
)

// Error is the JSON body of every failed request.
type Error struct {
	// Status is the HTTP status; not in the body.
	Status int `json:"-"`
	// Code is a stable word for programs: invalid, not_found, conflict,
	// version_mismatch, mass_delete, unauthorized, forbidden, bad_request,
	// internal.
	Code string `json:"code"`
	// Message says what is wrong, for people.
	Message string `json:"message"`
	// Path is the field the problem is about, as in target_groups[web].port.
	Path string `json:"path,omitempty"`
	// CurrentVersion is the head's version, with version_mismatch.
	CurrentVersion *uint64 `json:"current_version,omitempty"`
	// Errors lists every problem when validation found several.
	Errors []FieldError `json:"errors,omitempty"`
	// Changes are the deletions a mass_delete refusal is about.
	Changes []Change `json:"changes,omitempty"`
}

// FieldError is one validation problem.
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
	Allowed string `json:"allowed,omitempty"`
}

func (e *Error) Error() string {
	if e.Path != "" {
		return e.Path + ": " + e.Message
	}
	return e.Message
}

func badRequest(path, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "bad_request", Path: path, Message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Message: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) *Error {
	return &Error{Status: http.StatusConflict, Code: "conflict", Message: fmt.Sprintf(format, args...)}
}

// invalid turns validation errors into one Error.
func invalid(err error) *Error {
	es, ok := model.AsErrors(err)
	if !ok || len(es) == 0 {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "invalid", Message: err.Error()}
	}
	out := &Error{Status: http.StatusUnprocessableEntity, Code: "invalid", Path: es[0].Path.String(), Message: es[0].Msg}
	if es[0].Allowed != "" {
		out.Message += " (" + es[0].Allowed + ")"
	}
	if len(es) > 1 {
		out.Message = fmt.Sprintf("%s; and %d more problems", out.Message, len(es)-1)
	}
	for _, e := range es {
		out.Errors = append(out.Errors, FieldError{Path: e.Path.String(), Message: e.Msg, Allowed: e.Allowed})
	}
	return out
}

func writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Code: "internal", Message: err.Error()}
	}
	if e.CurrentVersion != nil {
		w.Header().Set("ETag", etag(*e.CurrentVersion))
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
	}
	writeJSON(w, e.Status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
	return nil
}

// etag renders a version as an entity tag.
func etag(v uint64) string { return `"` + strconv.FormatUint(v, 10) + `"` }

// decode reads a JSON body into v, refusing unknown fields and bodies over 16 MiB.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 16<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return badRequest(te.Field, "%s is not %s", te.Value, te.Type)
		}
		return badRequest("", "the body is not valid JSON for this resource: %v", err)
	}
	if dec.More() {
		return badRequest("", "the body holds more than one JSON value")
	}
	return nil
}
