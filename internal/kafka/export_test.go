package kafka

// EncodeFrame lets the black-box tests write frames as clients do.
var EncodeFrame = encodeFrame
