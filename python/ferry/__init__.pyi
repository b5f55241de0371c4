from ._ferry import (Cluster as Cluster, Communicator as Communicator, Engine as Engine, Future as Future,
                     ExpertParallel as ExpertParallel, PipelineLink as PipelineLink,
                     WeightBroadcast as WeightBroadcast,
                     KvLayout as KvLayout, KvReceiver as KvReceiver, KvSender as KvSender, Memory as Memory,
                     RemoteRegion as RemoteRegion, providers as providers)
from .errors import (DeadlineExceeded as DeadlineExceeded, FailedPrecondition as FailedPrecondition,
                     FerryError as FerryError, Internal as Internal, InvalidArgument as InvalidArgument,
                     NotFound as NotFound, OutOfRange as OutOfRange, ResourceExhausted as ResourceExhausted,
                     Unavailable as Unavailable, Unsupported as Unsupported)
from ._futures import wait_all as wait_all
