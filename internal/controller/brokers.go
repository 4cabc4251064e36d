package controller

import (
	"context"
	"strconv"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// port validates p as field and returns it in the records' form: the
// decimal number as a string, without leading zeros.
func validPort(p contract.Port, field string) (string, error) {
	if !p.IsSet() {
		return "", contract.Errorf(contract.CodeInvalidRequest, "%s is required", field)
	}
	n, err := strconv.ParseUint(p.Text(), 10, 32)
	if err != nil || n < 1 || n > 65535 {
		raw := p.Raw()
		if len(raw) > 40 {
			raw = raw[:40] + "..."
		}
		return "", contract.Errorf(contract.CodeInvalidRequest, "%s must be a port number 1..65535, as a JSON string or number; got %s", field, raw)
	}
	return strconv.FormatUint(n, 10), nil
}

// registration is a validated contract.RegisterBrokerRequest.
type registration struct {
	id                      int32
	host, port, proto, rack string
}

func validateRegistration(req contract.RegisterBrokerRequest) (registration, error) {
	switch {
	case req.BrokerID == nil:
		return registration{}, contract.Errorf(contract.CodeInvalidRequest, "brokerId is required")
	case *req.BrokerID < 0:
		return registration{}, contract.Errorf(contract.CodeInvalidRequest, "brokerId must be >= 0, got %d", *req.BrokerID)
	}
	if err := checkHost("brokerHost", req.BrokerHost); err != nil {
		return registration{}, err
	}
	if err := checkRackID(req.RackID); err != nil {
		return registration{}, err
	}
	port, err := validPort(req.BrokerPort, "brokerPort")
	if err != nil {
		return registration{}, err
	}
	proto := req.SecurityProtocol
	if proto == "" {
		proto = metadata.ProtocolPlaintext
	}
	if err := checkProtocol(proto); err != nil {
		return registration{}, err
	}
	return registration{id: *req.BrokerID, host: req.BrokerHost, port: port, proto: proto, rack: req.RackID}, nil
}

func checkProtocol(p string) error {
	if !metadata.ValidSecurityProtocol(p) {
		return contract.Errorf(contract.CodeInvalidRequest, "securityProtocol must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL; got %q", clip(p))
	}
	return nil
}

// RegisterBroker proposes a RegisterBrokerRecord: a new internalUUID,
// status ALIVE, epoch 0, or, re-registering a CLOSED id, the old epoch + 1.
// It returns the applied record and its offset. 409
// BROKER_ALREADY_REGISTERED if the id is registered and not CLOSED.
func (c *Controller) RegisterBroker(ctx context.Context, req contract.RegisterBrokerRequest) (metadata.Record, int64, error) {
	reg, err := validateRegistration(req)
	if err != nil {
		return metadata.Record{}, 0, err
	}
	applied, _, err := c.brokerWrite(ctx, reg.id, func(img *metadata.Image) ([]metadata.Record, bool, error) {
		return buildRegisterBroker(img, reg, c.newUUID(), MaxPartitionsPerRequest)
	}, nil)
	if err != nil {
		return metadata.Record{}, 0, err
	}
	c.Heartbeat(reg.id) // registering starts the broker's session
	return applied[0], applied[0].Offset, nil
}

// buildRegisterBroker is the registration batch; more reports offline
// partitions left for the follow-up batches (buildSettle).
func buildRegisterBroker(img metadata.Reader, reg registration, uuid string, limit int) ([]metadata.Record, bool, error) {
	var epoch int64
	if old, ok := img.Broker(reg.id); ok {
		if old.BrokerStatus != metadata.StatusClosed {
			return nil, false, contract.Errorf(contract.CodeBrokerAlreadyRegistered, "broker %d is already registered (%s)", reg.id, old.BrokerStatus)
		}
		epoch = old.Epoch + 1
	}
	recs := []metadata.Record{{Body: &metadata.RegisterBrokerRecord{
		InternalUUID: uuid, BrokerID: reg.id, BrokerHost: reg.host, BrokerPort: reg.port,
		SecurityProtocol: reg.proto, BrokerStatus: metadata.StatusAlive, RackID: reg.rack, Epoch: epoch,
	}}}
	// A CLOSED id coming back leads again where it was the last ISR member
	// when it left, as an unfenced broker does.
	parts, more := regainRecords(img, reg.id, limit)
	return append(recs, parts...), more, nil
}

// BrokersAll is the ListBrokers status that selects every broker.
const BrokersAll = contract.BrokersAll

// ListBrokers lists the brokers of page (list_page.go) whose status is
// status: "" (the default) means ALIVE, BrokersAll every broker; FENCED
// and CLOSED select those. Any other value is INVALID_REQUEST.
func (c *Controller) ListBrokers(ctx context.Context, status string, stale bool, page BrokerPage) (contract.BrokerList, error) {
	if status == "" {
		status = metadata.StatusAlive
	}
	if status != BrokersAll && !metadata.ValidStatus(status) {
		return contract.BrokerList{}, contract.Errorf(contract.CodeInvalidRequest, "status must be all, ALIVE, FENCED or CLOSED; got %q", clip(status))
	}
	if page.Limit < 0 || page.Limit > contract.MaxListLimit {
		return contract.BrokerList{}, contract.Errorf(contract.CodeInvalidRequest, "limit must be 1..%d", contract.MaxListLimit)
	}
	img, err := c.Image(ctx, stale)
	if err != nil {
		return contract.BrokerList{}, err
	}
	return brokerPage(img, status, page), nil
}

// Broker returns one broker's current values; BROKER_NOT_FOUND if the id
// was never registered (a CLOSED broker is still found).
func (c *Controller) Broker(ctx context.Context, id int32, stale bool) (metadata.RegisterBrokerRecord, error) {
	img, err := c.Image(ctx, stale)
	if err != nil {
		return metadata.RegisterBrokerRecord{}, err
	}
	b, ok := img.Broker(id)
	if !ok {
		return metadata.RegisterBrokerRecord{}, brokerNotFound(id)
	}
	return b, nil
}

func brokerNotFound(id int32) *contract.Error {
	return contract.Errorf(contract.CodeBrokerNotFound, "broker %d is not registered", id)
}

// brokerPatch is a validated PatchBrokerRequest; "" means unchanged.
type brokerPatch struct {
	host, port, proto, status string
}

func validatePatch(req contract.PatchBrokerRequest) (brokerPatch, error) {
	var p brokerPatch
	if req.BrokerHost == nil && (req.BrokerPort == nil || !req.BrokerPort.IsSet()) && req.SecurityProtocol == nil && req.BrokerStatus == nil {
		return p, contract.Errorf(contract.CodeInvalidRequest, "empty patch: give at least one of brokerHost, brokerPort, securityProtocol, brokerStatus")
	}
	if req.BrokerHost != nil {
		if err := checkHost("brokerHost", *req.BrokerHost); err != nil {
			return p, err
		}
		p.host = *req.BrokerHost
	}
	if req.BrokerPort != nil && req.BrokerPort.IsSet() {
		port, err := validPort(*req.BrokerPort, "brokerPort")
		if err != nil {
			return p, err
		}
		p.port = port
	}
	if req.SecurityProtocol != nil {
		if err := checkProtocol(*req.SecurityProtocol); err != nil {
			return p, err
		}
		p.proto = *req.SecurityProtocol
	}
	if req.BrokerStatus != nil {
		switch s := *req.BrokerStatus; s {
		case metadata.StatusAlive, metadata.StatusFenced:
			p.status = s
		case metadata.StatusClosed:
			return p, contract.Errorf(contract.CodeInvalidRequest, "brokerStatus cannot be set to CLOSED by PATCH; unregister with DELETE /v1/brokers/{brokerId}")
		default:
			return p, contract.Errorf(contract.CodeInvalidRequest, "brokerStatus must be ALIVE or FENCED; got %q", clip(s))
		}
	}
	return p, nil
}

// PatchBroker proposes a BrokerRegistrationChangeBrokerRecord carrying the
// broker's full new values and epoch + 1, and returns it with its offset.
// BROKER_NOT_FOUND if unknown, BROKER_NOT_ACTIVE if CLOSED. Fencing by
// PATCH takes the broker out of every ISR and leadership in the same batch
// as a session timeout does (departure.go); setting a FENCED broker ALIVE
// gives it back the offline partitions whose ISR holds it, as unfencing
// does.
func (c *Controller) PatchBroker(ctx context.Context, id int32, req contract.PatchBrokerRequest) (metadata.Record, int64, error) {
	patch, err := validatePatch(req)
	if err != nil {
		return metadata.Record{}, 0, err
	}
	applied, _, err := c.brokerWrite(ctx, id, func(img *metadata.Image) ([]metadata.Record, bool, error) {
		return buildPatchBroker(img, id, patch, MaxPartitionsPerRequest)
	}, nil)
	if err != nil {
		return metadata.Record{}, 0, err
	}
	return applied[0], applied[0].Offset, nil
}

// buildPatchBroker is the PATCH batch; more reports that a fencing or
// unfencing patch left partitions for the follow-up batches (buildSettle).
func buildPatchBroker(img metadata.Reader, id int32, patch brokerPatch, limit int) (recs []metadata.Record, more bool, err error) {
	cur, err := activeBroker(img, id)
	if err != nil {
		return nil, false, err
	}
	rec := brokerChange(cur)
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&rec.BrokerHost, patch.host)
	set(&rec.BrokerPort, patch.port)
	set(&rec.SecurityProtocol, patch.proto)
	set(&rec.BrokerStatus, patch.status)
	recs = []metadata.Record{{Body: rec}}
	switch {
	case rec.BrokerStatus == metadata.StatusFenced:
		var parts []metadata.Record
		parts, more = departureRecords(img, id, limit)
		recs = append(recs, parts...)
	case cur.BrokerStatus == metadata.StatusFenced && rec.BrokerStatus == metadata.StatusAlive:
		var parts []metadata.Record
		parts, more = regainRecords(img, id, limit)
		recs = append(recs, parts...)
	}
	return recs, more, nil
}

// activeBroker returns broker id's current values if it is registered and
// not CLOSED: BROKER_NOT_FOUND or BROKER_NOT_ACTIVE otherwise.
func activeBroker(img metadata.Reader, id int32) (metadata.RegisterBrokerRecord, error) {
	b, ok := img.Broker(id)
	if !ok {
		return b, brokerNotFound(id)
	}
	if b.BrokerStatus == metadata.StatusClosed {
		return b, contract.Errorf(contract.CodeBrokerNotActive, "broker %d is CLOSED", id)
	}
	return b, nil
}

// brokerChange is the change record that keeps every current value of b
// and moves to the next epoch.
func brokerChange(b metadata.RegisterBrokerRecord) *metadata.BrokerRegistrationChangeBrokerRecord {
	return &metadata.BrokerRegistrationChangeBrokerRecord{
		BrokerID: b.BrokerID, BrokerHost: b.BrokerHost, BrokerPort: b.BrokerPort,
		SecurityProtocol: b.SecurityProtocol, BrokerStatus: b.BrokerStatus, Epoch: b.Epoch + 1,
	}
}

// UnregisterBroker closes a broker: a BrokerRegistrationChangeBrokerRecord
// with status CLOSED and epoch + 1 and, in the same atomic batch, the
// broker leaves every ISR and leadership (see departure.go). It returns
// the change record and the batch's offset. BROKER_NOT_FOUND if unknown,
// BROKER_NOT_ACTIVE if already CLOSED.
func (c *Controller) UnregisterBroker(ctx context.Context, id int32) (metadata.Record, int64, error) {
	applied, _, err := c.brokerWrite(ctx, id, func(img *metadata.Image) ([]metadata.Record, bool, error) {
		return buildUnregisterBroker(img, id, MaxPartitionsPerRequest)
	}, nil)
	if err != nil {
		return metadata.Record{}, 0, err
	}
	return applied[0], applied[0].Offset, nil
}

func buildUnregisterBroker(img metadata.Reader, id int32, limit int) ([]metadata.Record, bool, error) {
	return buildBrokerDeparture(img, id, metadata.StatusClosed, limit)
}

// isAlive reports whether broker id is registered and ALIVE.
func isAlive(img metadata.Reader, id int32) bool {
	b, ok := img.Broker(id)
	return ok && b.BrokerStatus == metadata.StatusAlive
}
