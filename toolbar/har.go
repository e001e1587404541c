package toolbar

import "net/http"

func (a *API) har(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "toolbar: not yet", http.StatusNotImplemented)
}

func (a *API) importTrace(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "toolbar: not yet", http.StatusNotImplemented)
}
