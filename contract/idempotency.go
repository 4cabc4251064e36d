package contract

// MaxIdempotencyKeyLength is the longest Idempotency-Key accepted, in
// bytes.
const MaxIdempotencyKeyLength = 128

// ValidateIdempotencyKey checks a key as the API accepts it: 1 to
// MaxIdempotencyKeyLength printable ASCII characters (0x20 to 0x7E). It
// returns nil or an *Error with CodeInvalidRequest.
func ValidateIdempotencyKey(key string) *Error {
	if key == "" || len(key) > MaxIdempotencyKeyLength {
		return Errorf(CodeInvalidRequest, "Idempotency-Key must be 1 to %d characters long, got %d", MaxIdempotencyKeyLength, len(key))
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c > 0x7e {
			return Errorf(CodeInvalidRequest, "Idempotency-Key must be printable ASCII; byte %d is 0x%02x", i, c)
		}
	}
	return nil
}
