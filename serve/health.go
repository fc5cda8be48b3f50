package serve

import (
	"fmt"
	"net/http"
)

// unhealthy answers 503 with the reason when Config.Healthy reports one,
// and says whether it did.
func (s *Server) unhealthy(w http.ResponseWriter) bool {
	if s.cfg.Healthy == nil {
		return false
	}
	err := s.cfg.Healthy()
	if err == nil {
		return false
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintf(w, "unhealthy: %s\n", redact(err.Error()))
	return true
}
