package testcluster

// PeerAddr is node id's peer (raft transport) address as the voter set
// names it, the fault network's proxy aside.
func (c *Cluster) PeerAddr(id uint64) string { return c.voters[id] }

// HTTPAddr is node id's HTTP address (host:port).
func (c *Cluster) HTTPAddr(id uint64) string { return c.http[id] }

// KafkaAddr is node id's Kafka listener address (host:port), "" unless
// the cluster was started with Options.Kafka.
func (c *Cluster) KafkaAddr(id uint64) string { return c.kafka[id] }
