package controller

// BrokerCaughtUp reports whether a broker that has applied the metadata
// log up to offset has reached its own newest registration: the test the
// leader unfences it by (maybeUnfence), for the Kafka BrokerHeartbeat's
// IsCaughtUp, which a broker asking to stay fenced still needs answered.
func (c *Controller) BrokerCaughtUp(id int32, offset int64) bool {
	return offset >= c.registrationOffset(id)
}
