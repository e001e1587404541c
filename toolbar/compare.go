package toolbar

import "net/http"

func (a *API) compare(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "toolbar: not yet", http.StatusNotImplemented)
}
