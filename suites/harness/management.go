package harness

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// The My Account API cannot delete users. With a Management API client in the target
// config (client credentials, delete:users), the run deletes the users it signed up.

// DeleteUsers deletes users by id through the Management API of the canonical
// domain and returns what could not be deleted. Users already gone count as deleted.
func (f *Framework) DeleteUsers(ctx context.Context, ids []string) []error {
	m := f.Target.Management
	if m.ClientID == "" || len(ids) == 0 {
		return nil
	}
	base := f.Target.BaseURL(f.Target.Domain)
	resp, err := f.Client.Do(ctx, &Request{Method: http.MethodPost, URL: base + "/oauth/token", Deliberate: true, JSON: map[string]string{
		"grant_type": "client_credentials", "client_id": m.ClientID, "client_secret": m.ClientSecret, "audience": base + "/api/v2/",
	}})
	if err != nil {
		return []error{fmt.Errorf("management token: %w", err)}
	}
	var t Tokens
	if resp.Status != http.StatusOK || resp.JSON(&t) != nil || t.AccessToken == "" {
		return []error{fmt.Errorf("management token: POST /oauth/token (client_credentials) answered %d: %.200s", resp.Status, resp.Body)}
	}
	var left []error
	for _, id := range ids {
		resp, err := f.Client.Do(ctx, &Request{Method: http.MethodDelete, URL: base + "/api/v2/users/" + url.PathEscape(id), Bearer: t.AccessToken, Deliberate: true})
		switch {
		case err != nil:
			left = append(left, fmt.Errorf("user %s: %w", id, err))
		case resp.Status != http.StatusNoContent && resp.Status != http.StatusNotFound:
			left = append(left, fmt.Errorf("user %s: DELETE /api/v2/users answered %d", id, resp.Status))
		}
	}
	return left
}
