"""Assets: the QR code and barcode images of vouchers' codes, served by Patron itself."""
