// Package ui serves the operator's dashboard at /ui: the quorum, the
// brokers, the topics with their under-replicated and offline partitions,
// and the latest records, kept current by server-sent events from this
// node's commit stream.
//
// It needs no build step: the page is an html/template and its script and
// style sheet are embedded files, so every node serves it, offline too,
// without fetching anything from elsewhere. The page reads the quorum from
// the JSON API (GET /v1/quorum); the tables come from small JSON answers
// of this package (GET /ui/api/brokers, GET /ui/api/topics), which page
// and count on the server, so a cluster of millions of partitions never
// sends them to the browser.
//
// GET /ui/events streams the records this node applies (a bounded number
// of streams at once, keepalive comments while nothing commits). Each
// stream ends when its client goes or the Handler is closed.
package ui
