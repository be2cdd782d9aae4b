package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// GraphQL runs a GraphQL document with variables on POST /graphql and
// decodes the response's "data" into out (skipped when out is nil). When
// the response lists errors, they come back as *GraphQLError, after
// whatever data there was has been decoded. Transport and auth failures
// come back as *Error.
func (c *Client) GraphQL(ctx context.Context, query string, vars map[string]any, out any) error {
	b, err := json.Marshal(struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables,omitempty"`
	}{query, vars})
	if err != nil {
		return fmt.Errorf("client: encode graphql variables: %w", err)
	}
	resp, err := c.send(ctx, http.MethodPost, "/graphql", bytes.NewReader(b), "application/json")
	if err != nil {
		return err
	}
	defer drain(resp)
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("client: graphql: %w", err)
	}
	var gr struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message    string     `json:"message"`
			Locations  []Location `json:"locations"`
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	// GraphQL servers answer validation errors with 4xx and a GraphQL
	// body; only a body without data or errors is a plain HTTP failure.
	if json.Unmarshal(raw, &gr) != nil || (gr.Data == nil && len(gr.Errors) == 0) {
		if resp.StatusCode < 200 || resp.StatusCode >= 300 {
			return wireError(resp.StatusCode, raw)
		}
		return fmt.Errorf("%w: graphql: response has neither data nor errors", ErrProtocol)
	}
	if out != nil && len(gr.Data) > 0 && string(gr.Data) != "null" {
		if err := json.Unmarshal(gr.Data, out); err != nil {
			return fmt.Errorf("%w: graphql: decode data: %v", ErrProtocol, err)
		}
	}
	if len(gr.Errors) > 0 {
		ge := &GraphQLError{}
		for _, e := range gr.Errors {
			ge.Messages = append(ge.Messages, e.Message)
			ge.Codes = append(ge.Codes, e.Extensions.Code)
			ge.Locations = append(ge.Locations, e.Locations)
		}
		return ge
	}
	return nil
}
