"""All AWS access (DynamoDB, SQS, SNS, secrets) lives in this package; logic takes its interfaces."""
