import { ParticipantKind, RoomEvent, RpcError, type Room, type RpcInvocationData } from 'livekit-client';
import { useCallback, useEffect, useRef, useState } from 'react';

import {
  answerPayload,
  CLOSE_METHOD,
  CONFIRM_METHOD,
  parseCloseRequest,
  parseConfirmRequest,
  type ConfirmAnswer,
  type ConfirmRequest,
} from './confirmation';

/** A request on screen, and when it answers "timeout" by itself (epoch ms). */
export type PendingConfirmation = ConfirmRequest & { deadline: number };

export interface ConfirmationRequests {
  /** The request the sheet shows, if any. */
  pending: PendingConfirmation | null;
  confirm: () => void;
  cancel: () => void;
}

interface Open {
  request: ConfirmRequest;
  /** Answers the agent's RPC (null: withdrawn, send nothing meaningful). */
  settle: (answer: ConfirmAnswer) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Only the call's agent may ask: a request from anyone else in the room is refused. */
function fromAgent(room: Room, identity: string): boolean {
  return room.remoteParticipants.get(identity)?.kind === ParticipantKind.AGENT;
}

/**
 * Answers the agent's `bank.confirm` requests with the caller's tap: one sheet at a time
 * (a newer request replaces an older one, which then answers "timeout"), its own timeout,
 * withdrawn by `bank.confirm.close` or when the call ends.
 */
export function useConfirmationRequests(room: Room): ConfirmationRequests {
  const [pending, setPending] = useState<PendingConfirmation | null>(null);
  const open = useRef<Open | null>(null);

  const finish = useCallback((answer: ConfirmAnswer, id?: string) => {
    const current = open.current;
    if (!current || (id !== undefined && current.request.id !== id)) return;
    open.current = null;
    clearTimeout(current.timer);
    setPending(null);
    current.settle(answer);
  }, []);

  useEffect(() => {
    const onConfirm = (data: RpcInvocationData): Promise<string> => {
      if (!fromAgent(room, data.callerIdentity)) {
        return Promise.reject(new RpcError(RpcError.ErrorCode.APPLICATION_ERROR, 'not the agent'));
      }
      const request = parseConfirmRequest(data.payload);
      if (!request) {
        return Promise.reject(new RpcError(RpcError.ErrorCode.APPLICATION_ERROR, 'bad request'));
      }
      finish('timeout'); // a newer read-back replaces the one on screen
      return new Promise<string>((resolve) => {
        const timer = setTimeout(() => finish('timeout', request.id), request.timeoutMs);
        open.current = {
          request,
          settle: (answer) => resolve(answerPayload(request.id, answer)),
          timer,
        };
        setPending({ ...request, deadline: Date.now() + request.timeoutMs });
      });
    };
    const onClose = async (data: RpcInvocationData): Promise<string> => {
      const id = parseCloseRequest(data.payload);
      if (fromAgent(room, data.callerIdentity) && id !== null) finish('timeout', id);
      return '';
    };
    const onDisconnected = () => finish('timeout');
    room.registerRpcMethod(CONFIRM_METHOD, onConfirm);
    room.registerRpcMethod(CLOSE_METHOD, onClose);
    room.on(RoomEvent.Disconnected, onDisconnected);
    return () => {
      room.unregisterRpcMethod(CONFIRM_METHOD);
      room.unregisterRpcMethod(CLOSE_METHOD);
      room.off(RoomEvent.Disconnected, onDisconnected);
      finish('timeout');
    };
  }, [room, finish]);

  return {
    pending,
    confirm: useCallback(() => finish('confirm'), [finish]),
    cancel: useCallback(() => finish('cancel'), [finish]),
  };
}
